"""`zoomhooks stats`: the numbers match what was put in, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.ops import stats
from service.runtime import Runtime
from tests.ops.populate import (
    Cli,
    ended,
    failed,
    ingest,
    job_ids,
    processed,
    set_event,
    set_followup,
    started,
)


def test_stats_match_what_was_inserted(cli: Cli, runtime: Runtime) -> None:
    now = datetime.now(UTC)
    for i in range(3):
        processed(runtime, "meeting.started", started(f"D{i}=="))
    for i in range(2):  # the same cause twice: the largest group
        failed(runtime, "meeting.started", started(f"F{i}=="), message="database down")
    failed(runtime, "meeting.started", started("G=="), message="x" * 200)
    for i in range(4):  # one-offs, set by SQL: 6 causes in all, 5 shown
        one_off = ingest(runtime, "meeting.started", started(f"O{i}=="))
        set_event(runtime, one_off, status="failed", last_error=f"KeyError: 'k{i}'")
    waiting = ingest(runtime, "webinar.started", started("W=="))
    set_event(runtime, waiting, received_at=now - timedelta(hours=2))
    ingest(runtime, "webinar.started", started("W2=="))  # received just now
    stuck = ingest(runtime, "webinar.started", started("W3=="))
    set_event(runtime, stuck, status="processing", received_at=now - timedelta(days=3))
    processed(runtime, "account.updated", {"uuid": "R=="})  # no handler: ignored
    webinar = processed(runtime, "webinar.ended", ended("E=="))  # 4 follow-ups, due now
    set_event(runtime, webinar, received_at=now - timedelta(hours=5))
    jobs = job_ids(runtime)
    set_followup(runtime, jobs["qa"], status="failed")
    set_followup(runtime, jobs["polls"], status="done")
    set_followup(runtime, jobs["absentees"], next_attempt_at=now + timedelta(hours=1))
    set_followup(runtime, jobs["participants"], next_attempt_at=now - timedelta(minutes=10))

    out = cli.json(stats)
    inbox = out["inbox"]
    assert inbox["by_status"] == {
        "received": 2,
        "processing": 1,
        "done": 4,
        "failed": 7,
        "ignored": 1,
    }
    assert inbox["total"] == 15
    assert inbox["received_last_hour"] == 12  # not the 2 h, 5 h and 3 d old ones
    assert inbox["received_last_day"] == 14  # not the 3 d old one
    assert inbox["oldest_unfinished"]["id"] == stuck
    assert inbox["oldest_unfinished"]["status"] == "processing"
    assert 3 * 86_400 - 60 < inbox["lag_seconds"] < 3 * 86_400 + 60

    failures = out["failures"]
    assert failures["total"] == 7
    assert failures["top"][0] == {"prefix": "RuntimeError: database down", "count": 2}
    assert len(failures["top"]) == 5
    assert {f["count"] for f in failures["top"][1:]} == {1}
    assert {f["prefix"] for f in failures["top"][1:]} <= {
        "RuntimeError: " + "x" * 46,  # the first 60 characters
        *(f"KeyError: 'k{i}'" for i in range(4)),
    }

    by_resource = out["followups"]["by_resource"]
    assert by_resource["participants"] == {
        "pending": 1,
        "running": 0,
        "done": 0,
        "failed": 0,
        "not_applicable": 0,
    }
    assert by_resource["qa"]["failed"] == 1
    assert by_resource["polls"]["done"] == 1
    assert by_resource["absentees"]["pending"] == 1
    oldest_due = out["followups"]["oldest_due"]
    assert oldest_due["id"] == jobs["participants"]  # absentees is not due yet
    assert 540 < oldest_due["overdue_seconds"] < 700

    result = cli(stats)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "inbox (webhook_events)" in text
    assert "received in the last hour: 12, in the last day: 14" in text
    assert f"oldest unfinished event: {stuck} (webinar.started, processing)" in text
    assert "lag 3d 00h" in text
    assert "failed events: 7; most common causes" in text
    assert "RuntimeError: database down" in text
    assert "KeyError: 'k" in text
    assert "follow-ups by resource and status" in text
    assert f"oldest due follow-up: {jobs['participants']} (participants of E==" in text


def test_stats_of_an_empty_inbox(cli: Cli, runtime: Runtime) -> None:
    out = cli.json(stats)
    assert set(out["inbox"]["by_status"].values()) == {0}
    assert out["inbox"]["oldest_unfinished"] is None
    assert out["inbox"]["lag_seconds"] is None
    assert out["failures"]["top"] == []
    assert out["followups"]["oldest_due"] is None
    text = cli(stats).stdout
    assert "no backlog" in text
    assert "failed events: none" in text
    assert "oldest due follow-up: none" in text


def test_stats_name_why_follow_ups_failed(cli: Cli, runtime: Runtime) -> None:
    processed(runtime, "webinar.ended", ended("W=="))
    jobs = job_ids(runtime)
    scope = "Zoom 4711: missing scope report:read:admin"
    for resource in ("participants", "absentees"):
        set_followup(runtime, jobs[resource], status="failed", last_error=scope)
    set_followup(runtime, jobs["qa"], status="failed", last_error="gave up after 10 attempts")
    found = cli.json(stats)["followups"]["failures"]
    assert found[0] == {"prefix": scope, "count": 2}
    assert {"prefix": "gave up after 10 attempts", "count": 1} in found
    shown = cli(stats).stdout
    assert "failed follow-ups: most common causes" in shown and "report:read:admin" in shown
