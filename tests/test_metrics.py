"""/metrics moves as events flow: scrape, act, scrape again, compare."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from service.devtools.fakezoom import RunningFake
from service.processing.live import FOLLOWUP_RESOURCES
from tests.conftest import MakeRuntime
from tests.support import (
    event_body,
    followups_done,
    live_server,
    ops_server,
    signed_headers,
    wait_until,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_webhook_counters_latency_and_backlog(make_runtime: MakeRuntime, database_url: str) -> None:
    # No caching of the table gauges: this test reads them right after acting.
    runtime = make_runtime(database_url=database_url, max_body_bytes=2048, gauge_ttl_seconds=0)
    body = event_body("meeting.started", {"id": "1", "uuid": "m=="}, event_ts=1)
    with live_server(runtime.web_app()) as url, ops_server(runtime) as ops:
        before = scrape(ops)
        post: Any = lambda b, h: httpx.post(f"{url}/webhooks/zoom", content=b, headers=h)  # noqa: E731
        assert post(body, signed_headers(body)).status_code == 200
        assert post(body, signed_headers(body)).status_code == 200  # a redelivery
        assert post(body, {"x-zm-signature": "v0=00"}).status_code == 401
        assert post(b"[]", signed_headers(b"[]")).status_code == 400
        huge = b"x" * 4096
        assert post(huge, signed_headers(huge)).status_code == 413
        after = scrape(ops)
    assert delta(before, after, "zoomhooks_webhooks_received_total", event="meeting.started") == 1
    assert delta(before, after, "zoomhooks_webhooks_duplicate_total", event="meeting.started") == 1
    for reason in ("signature", "not_an_event", "too_large"):
        assert delta(before, after, "zoomhooks_webhooks_rejected_total", reason=reason) == 1
    assert delta(before, after, "zoomhooks_ingest_seconds_count") == 5
    assert value(after, "zoomhooks_inbox_events", status="received") == 1
    assert value(after, "zoomhooks_inbox_oldest_unfinished_age_seconds") >= 0
    runtime.start_workers()
    wait_until(lambda: runtime.inbox.counts() == {"done": 1})
    with ops_server(runtime) as ops:
        done = scrape(ops)
    assert (
        delta(
            after, done, "zoomhooks_events_processed_total", event="meeting.started", outcome="done"
        )
        == 1
    )
    assert value(done, "zoomhooks_inbox_events", status="done") == 1
    assert value(done, "zoomhooks_inbox_oldest_unfinished_age_seconds") == 0


def test_followup_and_zoom_counters(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings, gauge_ttl_seconds=0)  # gauges read after acting
    inst = fake_zoom.fake.world.add_webinar(81234567890, participants=350, absentees=1)
    fake_zoom.fake.faults.rate_limit("/v2/past_webinars/*/participants", count=1, retry_after="1")
    with ops_server(runtime) as url:
        before = scrape(url)
        runtime.start_workers()
        body = event_body("webinar.ended", {"id": str(inst.id), "uuid": inst.uuid}, event_ts=3)
        runtime.ingestor.ingest(body, signed_headers(body))
        wait_until(
            lambda: followups_done(runtime, len(FOLLOWUP_RESOURCES["webinar"])),
            timeout=30,
        )
        after = scrape(url)
    assert (
        delta(before, after, "zoomhooks_followups_total", resource="participants", outcome="done")
        == 1
    )
    # A one-second 429 is waited out in place: the job does not go back, but the pace slows.
    assert (
        delta(
            before,
            after,
            "zoomhooks_followups_total",
            resource="participants",
            outcome="rate_limited",
        )
        == 0
    )
    assert (
        delta(
            before,
            after,
            "zoomhooks_governor_slowdowns_total",
            account_id=zoom_settings["zoom_account_id"],
            category="Medium",
        )
        == 1
    )
    assert delta(before, after, "zoomhooks_zoom_token_renewals_total") == 1
    statuses = {
        labels: v - before.get((name, labels), 0)
        for (name, labels), v in after.items()
        if name == "zoomhooks_zoom_requests_total"
        and ("endpoint", "past_webinar_participants") in labels
    }
    by_status = {dict(labels)["status"]: n for labels, n in statuses.items() if n}
    assert by_status == {"429": 1, "200": 2}
    assert value(after, "zoomhooks_followups_jobs", resource="participants", status="done") == 1


def test_the_table_gauges_are_read_once_per_ttl(make_runtime: MakeRuntime) -> None:
    """Scrapes within the TTL cost the database nothing; the next one reads it again."""
    from sqlalchemy import event

    from service.storage.gauges import DatabaseCollector

    runtime = make_runtime()
    statements: list[str] = []
    event.listen(runtime.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    now = [100.0]
    collector = DatabaseCollector(runtime.engine, ttl=15, clock=lambda: now[0])
    first = [f.name for f in collector.collect()]
    read = len(statements)
    assert read >= 5
    now[0] += 14
    assert [f.name for f in collector.collect()] == first
    assert len(statements) == read
    now[0] += 2
    list(collector.collect())
    assert len(statements) == 2 * read


def test_prometheus_scrapes_openmetrics_gzipped_with_the_table_gauges(
    make_runtime: MakeRuntime, database_url: str
) -> None:
    runtime = make_runtime(database_url=database_url, gauge_ttl_seconds=0)
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    with ops_server(runtime) as ops:
        response = httpx.get(
            f"{ops}/metrics", headers={"Accept": accept, "Accept-Encoding": "gzip"}, timeout=10
        )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.headers["content-encoding"] == "gzip"
    # The process's counters and the database's gauges in one exposition, with one `# EOF`.
    assert response.text.count("# EOF") == 1
    # The OpenMetrics parser is strict (one EOF, ordered families) but untyped.
    parsed = openmetrics_families(response.text)  # type: ignore[no-untyped-call]
    families = {family.name for family in parsed}
    assert {"zoomhooks_webhooks_rejected", "zoomhooks_inbox_events"} <= families
