"""The fake's recording file downloads over real HTTP: tokens, bearer, ranges, faults."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from service.devtools.fakezoom import FakeZoom, ManualClock, RunningFake
from service.devtools.fakezoom.recfiles import PATTERN_LENGTH, content


def test_a_download_token_fetches_the_whole_file(
    server: RunningFake, fake: FakeZoom, http: httpx.Client
) -> None:
    fake.recording_files.add("f1", 300_000)
    token = fake.recording_files.mint_token()
    answer = http.get("/rec/download/f1", params={"access_token": token})
    assert answer.status_code == 200
    assert answer.headers["content-length"] == "300000"
    assert answer.content == content("f1", 0, 300_000)
    # Deterministic, not constant: the pattern repeats every PATTERN_LENGTH bytes.
    assert answer.content[:PATTERN_LENGTH] == answer.content[PATTERN_LENGTH : 2 * PATTERN_LENGTH]
    assert answer.content[:100] != content("f2", 0, 100)
    assert fake.recording_files.count("f1", auth="download_token") == 1


def test_an_oauth_bearer_works_too_and_ranges_resume(
    server: RunningFake, fake: FakeZoom, http: httpx.Client
) -> None:
    fake.recording_files.add("f1", 1000)
    headers = {"Authorization": f"Bearer {fake.issue_token()}", "Range": "bytes=600-"}
    answer = http.get("/rec/download/f1", headers=headers)
    assert answer.status_code == 206
    assert answer.headers["content-range"] == "bytes 600-999/1000"
    assert answer.content == content("f1", 600, 1000)
    past = http.get("/rec/download/f1", headers=headers | {"Range": "bytes=1000-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == "bytes */1000"
    assert fake.recording_files.count(auth="oauth") == 2


@pytest.mark.parametrize("how", ["none", "unknown", "expired", "bad-bearer"])
def test_a_missing_or_dead_token_is_401_like_zoom(
    server: RunningFake, fake: FakeZoom, clock: ManualClock, http: httpx.Client, how: str
) -> None:
    fake.recording_files.add("f1", 10)
    params: dict[str, str] = {}
    headers: dict[str, str] = {}
    if how == "unknown":
        params["access_token"] = "not-minted"
    elif how == "expired":
        params["access_token"] = fake.recording_files.mint_token(lifetime=60)
        clock.advance(61)
    elif how == "bad-bearer":
        headers["Authorization"] = "Bearer nope"
    answer = http.get("/rec/download/f1", params=params, headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"code": 124, "message": "Invalid access token."}


def test_an_unknown_file_is_404(server: RunningFake, fake: FakeZoom, http: httpx.Client) -> None:
    token = fake.recording_files.mint_token()
    answer = http.get("/rec/download/nope", params={"access_token": token})
    assert answer.status_code == 404
    assert answer.json()["code"] == 3301


def test_a_cut_drops_the_connection_once(
    server: RunningFake, fake: FakeZoom, http: httpx.Client
) -> None:
    fake.recording_files.add("f1", 1_000_000)
    fake.recording_files.cut_next("f1", 300_000)
    token = fake.recording_files.mint_token()
    received = bytearray()
    with (  # noqa: PT012 - the body is cut mid-stream
        pytest.raises(httpx.RemoteProtocolError),
        http.stream("GET", "/rec/download/f1", params={"access_token": token}) as answer,
    ):
        for chunk in answer.iter_raw():
            received += chunk
    assert len(received) == 300_000
    again = http.get("/rec/download/f1", params={"access_token": token})
    assert (
        hashlib.sha256(again.content).digest()
        == hashlib.sha256(content("f1", 0, 1_000_000)).digest()
    )


def test_a_file_can_be_shorter_than_claimed(
    server: RunningFake, fake: FakeZoom, http: httpx.Client
) -> None:
    fake.recording_files.add("f1", 1000, served_size=900)
    answer = http.get(
        "/rec/download/f1", params={"access_token": fake.recording_files.mint_token()}
    )
    assert len(answer.content) == 900
