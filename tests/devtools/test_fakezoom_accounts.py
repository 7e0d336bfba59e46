"""Several Server-to-Server OAuth accounts in one fake: tokens, refusals, per-account records."""

from __future__ import annotations

import httpx
import pytest

from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FakeAccount,
    FakeZoom,
    ManualClock,
)

A = FakeAccount(DEFAULT_ACCOUNT_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
B = FakeAccount("acct-b", "client-b", "secret-b")
C = FakeAccount("acct-c", "client-c", "secret-c")
QA = "/v2/past_webinars/1/qa"
TOKEN_LIFETIME = 60.0


@pytest.fixture
def fake(clock: ManualClock) -> FakeZoom:
    """The conftest's fake (its `server`, `http` and `api` serve this one), with accounts B, C."""
    fake = FakeZoom(accounts=[B, C], clock=clock, token_lifetime=TOKEN_LIFETIME)
    fake.world.add_webinar(1, participants=2, questions=1)
    return fake


def get_token(http: httpx.Client, client: FakeAccount, account_id: str) -> httpx.Response:
    params = {"grant_type": "account_credentials", "account_id": account_id}
    return http.post("/oauth/token", params=params, auth=(client.client_id, client.client_secret))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_each_account_gets_tokens_with_its_own_credentials(
    fake: FakeZoom, http: httpx.Client
) -> None:
    assert fake.accounts == (A, B, C)
    tokens = {}
    for account in (A, B, C):
        response = get_token(http, account, account.account_id)
        assert response.status_code == 200, response.text
        tokens[account.account_id] = response.json()["access_token"]
    assert fake.tokens_issued == 3
    for account_id, token in tokens.items():
        assert http.get(QA, headers=bearer(token)).status_code == 200
        assert fake.log.records()[-1].account_id == account_id
    oauth = fake.log.records("oauthToken")
    assert [r.account_id for r in oauth] == ["fakezoom-account-id", "acct-b", "acct-c"]
    assert fake.calls(account_id="acct-b") == 2  # its token request and its API call
    assert fake.calls("listPastWebinarQA", account_id="acct-b") == 1
    assert fake.calls("listPastWebinarQA", account_id="acct-c") == 1
    assert fake.calls("listPastWebinarQA", 200, account_id="acct-c") == 1
    assert fake.calls("listPastWebinarQA") == 3


def test_cross_account_credentials_are_refused_like_a_wrong_account_id(
    fake: FakeZoom, http: httpx.Client
) -> None:
    wrong_account = get_token(http, A, "someone-else")  # the single-account refusal
    cross = get_token(http, A, B.account_id)
    reverse = get_token(http, B, A.account_id)
    assert wrong_account.status_code == cross.status_code == reverse.status_code == 400
    assert wrong_account.json() == cross.json() == reverse.json()
    assert cross.json() == {"reason": "Invalid account_id", "error": "invalid_request"}
    mixed = get_token(http, FakeAccount(B.account_id, B.client_id, A.client_secret), "acct-b")
    assert (mixed.status_code, mixed.json()["error"]) == (400, "invalid_client")
    assert fake.tokens_issued == 0
    assert [r.account_id for r in fake.log.records("oauthToken")] == [None] * 4


def test_a_refused_grant_type_still_names_the_account_asked_for(
    fake: FakeZoom, http: httpx.Client
) -> None:
    params = {"grant_type": "client_credentials", "account_id": B.account_id}
    response = http.post("/oauth/token", params=params, auth=(B.client_id, B.client_secret))
    assert response.json()["error"] == "unsupported_grant_type"
    assert fake.log.records()[-1].account_id == "acct-b"


def test_api_records_name_the_account_of_a_valid_token_only(
    fake: FakeZoom, http: httpx.Client, clock: ManualClock
) -> None:
    token_b = fake.issue_token("acct-b")
    assert http.get(QA, headers=bearer(token_b)).status_code == 200
    outside_spec = http.get("/v2/past_webinars/1/attendees", headers=bearer(token_b))
    assert outside_spec.status_code == 400
    assert http.get(QA).status_code == 401
    assert http.get(QA, headers=bearer("nope")).status_code == 401
    clock.advance(TOKEN_LIFETIME)
    assert http.get(QA, headers=bearer(token_b)).status_code == 401
    accounts = [r.account_id for r in fake.log.records()]
    assert accounts == ["acct-b", "acct-b", None, None, None]
    assert fake.log.records(account_id="acct-b") == fake.log.records()[:2]
    assert fake.log.records()[0].to_json()["account_id"] == "acct-b"
    assert fake.log.records()[0].at < fake.log.records()[-1].at
    default = fake.issue_token()
    assert http.get(QA, headers=bearer(default)).status_code == 200
    assert fake.log.records()[-1].account_id == DEFAULT_ACCOUNT_ID
    with pytest.raises(ValueError, match="no account 'acct-x'"):
        fake.issue_token("acct-x")


def test_faults_name_the_requests_account(fake: FakeZoom, http: httpx.Client) -> None:
    fake.faults.permission(code=1010, count=None)
    for account in (A, B):
        response = http.get(QA, headers=bearer(fake.issue_token(account.account_id)))
        assert response.json() == {
            "code": 1010,
            "message": f"User does not belong to this account:{account.account_id}.",
        }
        assert (fake.log.records()[-1].fault, fake.log.records()[-1].account_id) == (
            "permission",
            account.account_id,
        )


def test_single_active_token_is_per_account(clock: ManualClock) -> None:
    fake = FakeZoom(accounts=[B], single_active_token=True, clock=clock)
    a1, b1, a2 = fake.issue_token(), fake.issue_token("acct-b"), fake.issue_token()
    assert [fake.access_tokens.check(t) for t in (a1, b1, a2)] == ["invalid", "valid", "valid"]


def test_accounts_over_the_control_api(fake: FakeZoom, http: httpx.Client) -> None:
    http.get(QA, headers=bearer(fake.issue_token("acct-b")))
    http.get(QA, headers=bearer(fake.issue_token("acct-c")))
    listed = http.get("/_fake/requests").json()["requests"]
    assert [r["account_id"] for r in listed] == ["acct-b", "acct-c"]
    only_c = http.get("/_fake/requests", params={"account_id": "acct-c"}).json()["requests"]
    assert only_c == listed[1:]
    rates = http.get("/_fake/rates", params={"account_id": "acct-b"}).json()
    assert rates["peak"] == 1


def test_a_client_id_names_one_account() -> None:
    with pytest.raises(ValueError, match="two accounts have client_id 'client-b'"):
        FakeZoom(accounts=[B, FakeAccount("acct-d", "client-b", "other")])
    with pytest.raises(ValueError, match="fakezoom-client-id"):
        FakeZoom(accounts=[A])
    assert FakeZoom().accounts == (A,)
