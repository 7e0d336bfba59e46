"""The v0 signature over the raw body, its timestamp window, secret rotation and the CRC answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.config import DEFAULT_FUTURE_SKEW, DEFAULT_TIMESTAMP_TOLERANCE
from service.webhooks.signature import (
    SignatureError,
    Verified,
    sign,
    url_validation_response,
    verify,
)
from tests.support import FIXTURES, SECRET, compact, real_captures, webhook_fixtures

VECTORS: dict[str, Any] = json.loads(
    (FIXTURES / "signature-test-vectors.selfcomputed.json").read_text(encoding="utf-8")
)
VECTOR_SECRET = VECTORS["secret_token"].encode()
CASES: list[dict[str, str]] = VECTORS["signature_cases"]
WRONG = "signature_of_python_json.dumps_reserialized_body_(WRONG)"

KEY = SECRET.encode()
NOW = 1_700_000_000
TS = str(NOW)
ALL_BODIES = webhook_fixtures() + real_captures()


def check(
    body: bytes,
    signature: str | None,
    timestamp: str | None = TS,
    *,
    secrets: tuple[bytes, ...] = (KEY,),
    now: float = NOW,
    tolerance: int = DEFAULT_TIMESTAMP_TOLERANCE,
    skew: int = DEFAULT_FUTURE_SKEW,
) -> Verified:
    return verify(
        secrets=secrets,
        signature=signature,
        timestamp=timestamp,
        body=body,
        now=now,
        tolerance_seconds=tolerance,
        future_skew_seconds=skew,
    )


def flip(body: bytes, position: int) -> bytes:
    changed = bytearray(body)
    changed[position] ^= 0x01
    return bytes(changed)


def vector_id(case: dict[str, str]) -> str:
    return case["name"].split(" ")[0]


# --- the self-computed vectors -------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=vector_id)
def test_vector_signature_matches_and_verifies(case: dict[str, str]) -> None:
    body = case["raw_body_utf8"].encode("utf-8")
    ts = case["x-zm-request-timestamp"]
    assert sign(VECTOR_SECRET, ts, body) == case["expected_x-zm-signature"]
    verified = check(
        body, case["expected_x-zm-signature"], ts, secrets=(VECTOR_SECRET,), now=int(ts)
    )
    assert verified == Verified(secret=VECTOR_SECRET, timestamp=int(ts))


@pytest.mark.parametrize("case", CASES, ids=vector_id)
def test_vector_reserialised_body_gives_the_documented_wrong_signature(
    case: dict[str, str],
) -> None:
    body = case["raw_body_utf8"].encode("utf-8")
    ts = case["x-zm-request-timestamp"]
    reserialised = json.dumps(json.loads(body)).encode("utf-8")
    assert reserialised != body
    assert sign(VECTOR_SECRET, ts, reserialised) == case[WRONG]
    with pytest.raises(SignatureError, match="does not match"):
        check(body, case[WRONG], ts, secrets=(VECTOR_SECRET,), now=int(ts))


@pytest.mark.parametrize("case", CASES, ids=vector_id)
@pytest.mark.parametrize("delta", [-1, 1])
def test_vector_rejects_timestamp_changed_by_one(case: dict[str, str], delta: int) -> None:
    body = case["raw_body_utf8"].encode("utf-8")
    ts = int(case["x-zm-request-timestamp"])
    with pytest.raises(SignatureError, match="does not match"):
        check(
            body, case["expected_x-zm-signature"], str(ts + delta), secrets=(VECTOR_SECRET,), now=ts
        )


@pytest.mark.parametrize("case", CASES, ids=vector_id)
def test_vector_rejects_another_secret(case: dict[str, str]) -> None:
    body = case["raw_body_utf8"].encode("utf-8")
    ts = case["x-zm-request-timestamp"]
    with pytest.raises(SignatureError, match="does not match"):
        check(body, case["expected_x-zm-signature"], ts, secrets=(b"another-secret",), now=int(ts))


@pytest.mark.parametrize("case", CASES, ids=vector_id)
def test_vector_rejects_every_single_flipped_byte(case: dict[str, str]) -> None:
    body = case["raw_body_utf8"].encode("utf-8")
    ts = case["x-zm-request-timestamp"]
    accepted = []
    for position in range(len(body)):
        try:
            check(
                flip(body, position),
                case["expected_x-zm-signature"],
                ts,
                secrets=(VECTOR_SECRET,),
                now=int(ts),
            )
        except SignatureError:
            continue
        accepted.append(position)
    assert accepted == []


def test_url_validation_vectors() -> None:
    for case in VECTORS["url_validation_cases"]:
        response = url_validation_response(VECTOR_SECRET, case["plainToken"])
        assert response == case["expected_response"]


def test_url_validation_depends_on_secret_and_token() -> None:
    case = VECTORS["url_validation_cases"][0]
    expected = case["expected_response"]["encryptedToken"]
    assert url_validation_response(b"other", case["plainToken"])["encryptedToken"] != expected
    assert url_validation_response(VECTOR_SECRET, "other")["encryptedToken"] != expected


def test_url_validation_encodes_non_ascii_token_as_utf8() -> None:
    response = url_validation_response(VECTOR_SECRET, "Zoë")
    assert response["plainToken"] == "Zoë"
    assert len(response["encryptedToken"]) == 64
    assert response != url_validation_response(VECTOR_SECRET, "Zoe")


# --- every fixture body, compacted as Zoom sends it ----------------------------------------


@pytest.fixture(params=ALL_BODIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def body(request: pytest.FixtureRequest) -> bytes:
    path: Path = request.param
    return compact(path)


def test_fixture_signed_verifies(body: bytes) -> None:
    assert check(body, sign(KEY, TS, body)) == Verified(secret=KEY, timestamp=NOW)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_fixture_one_flipped_byte_rejected(body: bytes, where: str) -> None:
    position = {"first": 0, "middle": len(body) // 2, "last": len(body) - 1}[where]
    with pytest.raises(SignatureError, match="does not match"):
        check(flip(body, position), sign(KEY, TS, body))


@pytest.mark.parametrize(
    "reserialise",
    [
        pytest.param(lambda d: json.dumps(d), id="default-separators"),
        pytest.param(lambda d: json.dumps(d, sort_keys=True), id="sorted-keys"),
        pytest.param(lambda d: json.dumps(d, indent=1, ensure_ascii=False), id="indented"),
    ],
)
def test_fixture_reserialised_body_rejected(body: bytes, reserialise: Any) -> None:
    again = reserialise(json.loads(body)).encode("utf-8")
    assert again != body
    with pytest.raises(SignatureError, match="does not match"):
        check(again, sign(KEY, TS, body))


def test_non_ascii_body_is_signed_as_utf8_bytes() -> None:
    path = next(p for p in real_captures() if "participant_joined" in p.name)
    body = compact(path)
    assert "Zoë Exämple".encode() in body
    assert check(body, sign(KEY, TS, body)).secret == KEY
    escaped = json.dumps(json.loads(body), separators=(",", ":")).encode("ascii")
    assert b"Zo\\u00eb" in escaped
    with pytest.raises(SignatureError):
        check(escaped, sign(KEY, TS, body))


def test_payload_first_key_order_is_kept() -> None:
    path = next(p for p in real_captures() if "participant_left" in p.name)
    body = compact(path)
    assert body.startswith(b'{"payload":')
    assert check(body, sign(KEY, TS, body)).timestamp == NOW
    event_first = json.dumps(
        {"event": json.loads(body)["event"], **json.loads(body)},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    assert event_first.startswith(b'{"event":')
    with pytest.raises(SignatureError):
        check(event_first, sign(KEY, TS, body))


# --- the timestamp window -----------------------------------------------------------------

BODY = compact(webhook_fixtures()[1])


def at(offset: int, **kwargs: Any) -> Verified:
    """Verify a body signed `offset` seconds from NOW (negative: in the past)."""
    ts = str(NOW + offset)
    return check(BODY, sign(KEY, ts, BODY), ts, **kwargs)


def test_default_tolerance_accepts_zoom_retry_85_minutes_late() -> None:
    assert at(-85 * 60).timestamp == NOW - 85 * 60


def test_default_tolerance_edge() -> None:
    assert at(-DEFAULT_TIMESTAMP_TOLERANCE).timestamp == NOW - DEFAULT_TIMESTAMP_TOLERANCE
    with pytest.raises(SignatureError, match="too old"):
        at(-DEFAULT_TIMESTAMP_TOLERANCE - 1)


@pytest.mark.parametrize("tolerance", [0, 60, 300])
def test_older_than_tolerance_rejected(tolerance: int) -> None:
    assert at(-tolerance, tolerance=tolerance).timestamp == NOW - tolerance
    with pytest.raises(SignatureError, match="too old"):
        at(-tolerance - 1, tolerance=tolerance)


def test_small_future_skew_accepted() -> None:
    assert at(30).timestamp == NOW + 30
    assert at(DEFAULT_FUTURE_SKEW).timestamp == NOW + DEFAULT_FUTURE_SKEW


@pytest.mark.parametrize("ahead", [DEFAULT_FUTURE_SKEW + 1, 3600, 10**9])
def test_beyond_future_skew_rejected(ahead: int) -> None:
    with pytest.raises(SignatureError, match="in the future"):
        at(ahead)


def test_future_skew_is_its_own_setting() -> None:
    with pytest.raises(SignatureError, match="in the future"):
        at(1, skew=0)
    assert at(0, skew=0).timestamp == NOW


@pytest.mark.parametrize(
    "timestamp",
    [
        "abc",
        "-1",
        "+1700000000",
        "1700000000.0",
        " 1700000000",
        "1700000000 ",
        "1_700_000_000",
        "0x6553f100",
        "1e9",
        "\u0661\u0667" + "\u0660" * 8,  # Arabic-Indic digits: str.isdigit() is True for them
        "1" * 13,
        "9" * 40,
    ],
)
def test_malformed_or_huge_timestamp_rejected(timestamp: str) -> None:
    # Even when the signature is computed over exactly that string.
    signature = sign(KEY, timestamp, BODY) if timestamp.isascii() else "v0=" + "0" * 64
    with pytest.raises(SignatureError, match="not a Unix time"):
        check(BODY, signature, timestamp)


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature_rejected(signature: str | None) -> None:
    with pytest.raises(SignatureError, match="missing x-zm-signature"):
        check(BODY, signature)


@pytest.mark.parametrize("timestamp", [None, ""])
def test_missing_timestamp_rejected(timestamp: str | None) -> None:
    with pytest.raises(SignatureError, match="missing x-zm-request-timestamp"):
        check(BODY, sign(KEY, TS, BODY), timestamp)


@pytest.mark.parametrize(
    "signature",
    [
        "garbage",
        "v0=",
        "v1=" + sign(KEY, TS, BODY)[3:],
        sign(KEY, TS, BODY)[3:],
        sign(KEY, TS, BODY).upper(),
        sign(KEY, TS, BODY)[:-1],
        sign(KEY, TS, BODY) + "0",
        "v0=ζ" + sign(KEY, TS, BODY)[4:],
    ],
)
def test_malformed_signature_rejected(signature: str) -> None:
    with pytest.raises(SignatureError, match="does not match"):
        check(BODY, signature)


def test_no_secrets_rejects_everything() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        check(BODY, sign(KEY, TS, BODY), secrets=())


# --- secret rotation ----------------------------------------------------------------------

OLD, NEW = b"old-secret", b"new-secret"


@pytest.mark.parametrize("signed_with", [OLD, NEW])
@pytest.mark.parametrize("order", [(OLD, NEW), (NEW, OLD)])
def test_rotation_either_secret_verifies_and_is_reported(
    signed_with: bytes, order: tuple[bytes, bytes]
) -> None:
    verified = check(BODY, sign(signed_with, TS, BODY), secrets=order)
    assert verified.secret == signed_with


def test_rotation_third_secret_rejected() -> None:
    with pytest.raises(SignatureError):
        check(BODY, sign(b"third", TS, BODY), secrets=(OLD, NEW))


def test_rotation_challenge_answered_with_the_matching_secret() -> None:
    verified = check(BODY, sign(NEW, TS, BODY), secrets=(OLD, NEW))
    assert url_validation_response(verified.secret, "tok") == url_validation_response(NEW, "tok")
    assert url_validation_response(verified.secret, "tok") != url_validation_response(OLD, "tok")
