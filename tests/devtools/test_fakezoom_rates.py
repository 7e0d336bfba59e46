"""Request rates from the log: `RequestLog.peak` (sliding window) and `per_window` (buckets)."""

from __future__ import annotations

import time

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.devtools.fakezoom import FakeZoom, ManualClock, RequestLog, RequestRecord, RunningFake

OP = "listWebinarParticipants"


def record(
    at: float,
    *,
    category: str | None = "Medium",
    account_id: str | None = "acct-a",
    operation_id: str | None = OP,
) -> RequestRecord:
    return RequestRecord(
        method="GET",
        raw_path="/v2/past_webinars/1/participants",
        query="",
        operation_id=operation_id,
        template=None,
        category=category,
        status=200,
        code=None,
        fault=None,
        tracking_id="",
        at=at,
        account_id=account_id,
    )


def log_of(*records: RequestRecord, limit: int = 1_000) -> RequestLog:
    log = RequestLog(limit)
    for r in records:
        log.add(r)
    return log


def brute_peak(times: list[float], window: float) -> int:
    # The densest [t, t + window) starts at an arrival, so trying each arrival is exhaustive.
    return max((sum(t <= x < t + window for x in times) for t in times), default=0)


def test_an_empty_log_has_no_peak() -> None:
    assert RequestLog().peak() == 0
    assert RequestLog().per_window() == {}


@pytest.mark.parametrize(
    ("times", "window", "peak"),
    [
        ([5.0], 1.0, 1),
        ([0.0, 0.5, 0.999], 1.0, 3),
        ([0.0, 1.0], 1.0, 1),  # exactly one window apart: the interval is half-open
        ([0.7, 1.7], 1.0, 1),  # 1.7 - 0.7 < 1.0 in floats, but 1.7 is 0.7 + 1.0
        ([0.0, 0.5, 1.0, 1.4, 2.4], 1.0, 3),  # the densest second is [0.5, 1.5)
        ([3.0, 1.0, 2.0, 1.5, 1.2], 1.0, 3),  # arrival order does not matter
        ([0.0, 0.1, 0.2, 0.3], 0.25, 3),
        ([2.0, 2.0, 2.0, 3.0], 1.0, 3),  # simultaneous arrivals
    ],
)
def test_peak_is_the_densest_half_open_window(times: list[float], window: float, peak: int) -> None:
    log = log_of(*(record(t) for t in times))
    assert log.peak(window) == peak == brute_peak(times, window)


@given(
    st.lists(st.floats(min_value=0, max_value=50, allow_nan=False), max_size=60),
    st.sampled_from([0.1, 0.25, 1.0, 3.0]),
)
def test_peak_matches_brute_force(times: list[float], window: float) -> None:
    assert log_of(*(record(t) for t in times)).peak(window) == brute_peak(times, window)


def test_per_window_counts_fixed_buckets() -> None:
    log = log_of(*(record(t) for t in (0.0, 0.5, 0.999, 1.0, 2.5, 2.5)))
    assert log.per_window() == {0: 3, 1: 1, 2: 2}
    assert log.per_window(0.5) == {0: 1, 1: 2, 2: 1, 5: 2}
    assert log.per_window(10) == {0: 6}
    assert max(log.per_window().values()) <= log.peak(), "a bucket is one of the windows"


def test_filters_select_category_account_and_operation() -> None:
    log = log_of(
        record(0.0),
        record(0.1, account_id="acct-b"),
        record(0.2, category="Light", operation_id="listPastWebinarQA"),
        record(0.3, category=None, operation_id=None, account_id=None),  # outside the spec
        record(0.4, category=None, operation_id="oauthToken"),
        record(0.5, category=None, operation_id="oauthToken"),
    )
    assert log.peak() == 4, "every API request, not the OAuth endpoint"
    assert log.peak(category="Medium") == 2
    assert log.peak(category="Medium", account_id="acct-b") == 1
    assert log.peak(account_id="acct-a") == 2
    assert log.peak(operation_id="listPastWebinarQA") == 1
    assert log.peak(operation_id="oauthToken") == 2, "unless asked for"
    assert log.peak(category="Heavy") == 0
    assert log.per_window(0.25, account_id="acct-a") == {0: 2}
    assert log.per_window(operation_id="oauthToken") == {0: 2}


def test_rates_cover_only_the_kept_records() -> None:
    log = log_of(*(record(0.0) for _ in range(5)), limit=3)
    assert log.peak() == 3
    assert log.per_window() == {0: 3}
    assert log.calls(OP) == 5, "the counters keep counting"


@pytest.mark.parametrize("window", [0.0, -1.0, float("nan")])
def test_window_must_be_positive(window: float) -> None:
    with pytest.raises(ValueError, match="window must be positive"):
        log_of(record(0.0)).peak(window)
    with pytest.raises(ValueError, match="window must be positive"):
        log_of(record(0.0)).per_window(window)


def test_records_are_stamped_with_the_fakes_clock_at_arrival(
    fake: FakeZoom, clock: ManualClock, api: httpx.Client, http: httpx.Client
) -> None:
    fake.world.add_webinar(1, participants=3)
    start = clock.now
    for _ in range(3):
        assert api.get("/past_webinars/1/participants").status_code == 200
    clock.advance(1.0)
    assert api.get("/past_webinars/1/instances").status_code == 200
    assert [r.at for r in fake.log.records()] == [start] * 3 + [start + 1.0]
    assert fake.peak_rate() == 3
    assert fake.peak_rate(category="Medium") == 3
    assert fake.peak_rate(category="Light") == 1
    assert fake.peak_rate(2.0) == 4
    rates = http.get("/_fake/rates", params={"category": "Medium"}).json()
    assert rates == {"peak": 3, "per_window": {str(int(start)): 3}}
    assert http.get("/_fake/rates", params={"window": "0"}).status_code == 400
    assert http.get("/_fake/rates", params={"window": "soon"}).status_code == 400


def test_at_is_the_monotonic_clock_at_arrival_by_default(server: RunningFake) -> None:
    fake = FakeZoom()
    fake.world.add_webinar(1, participants=1)
    token = fake.issue_token()
    fake.faults.slow(0.3)
    server.use(fake)
    with httpx.Client(base_url=server.api_url, timeout=10.0) as client:
        before = time.monotonic()
        response = client.get("/past_webinars/1/qa", headers={"Authorization": f"Bearer {token}"})
        after = time.monotonic()
    assert response.status_code == 200
    (rec,) = fake.log.records()
    assert rec.fault == "slow"
    assert before <= rec.at <= after - 0.3, "stamped on arrival, before the delay"
