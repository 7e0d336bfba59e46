"""`zoomhooks purge` and `zoomhooks erase`: by age and by person, batched, never unfinished
events, dry runs that delete nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from service.ops import erase, purge, stats
from service.queue.purger import Purger
from service.runtime import Runtime
from service.storage.models import participant_events, webhook_events
from service.storage.types import utcnow
from tests.conftest import MakeRuntime
from tests.ops.populate import Cli, ingest, processed, set_event, started, statuses


def joined(uuid: str, n: int, email: str) -> dict[str, Any]:
    person = {
        "id": f"p{n}",
        "user_id": str(n),
        "user_name": f"Zoë {n}",
        "email": email,
        "join_time": "2024-03-01T14:05:00Z",
    }
    return {"id": "86431910364", "uuid": uuid, "participant": person}


def timeline_rows(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(participant_events)).scalar_one())


def aged(runtime: Runtime, inbox_id: int, days: int) -> None:
    set_event(runtime, inbox_id, received_at=utcnow() - timedelta(days=days))


def test_purge_deletes_old_finished_events_only_in_batches(cli: Cli, runtime: Runtime) -> None:
    old_done = [processed(runtime, "meeting.started", started(f"o{i}==")) for i in range(5)]
    old_unfinished = ingest(runtime, "meeting.started", started("u=="))
    recent = processed(runtime, "meeting.started", started("r=="))
    for inbox_id in [*old_done, old_unfinished]:
        aged(runtime, inbox_id, 40)

    dry = cli.json(purge, "--events-days", "30", "--dry-run")
    assert dry == {"dry_run": True, "rows": {"webhook_events": 5}}
    assert len(statuses(runtime)) == 7

    done = cli.json(purge, "--events-days", "30", "--batch", "2")
    assert done == {"dry_run": False, "rows": {"webhook_events": 5}}
    assert set(statuses(runtime)) == {old_unfinished, recent}


def test_purge_of_the_timeline_and_its_default_from_the_environment(
    cli: Cli, runtime: Runtime
) -> None:
    processed(runtime, "meeting.participant_joined", joined("t==", 1, "a@example.com"))
    assert timeline_rows(runtime) == 1
    # The join time is 2024-03-01: older than any retention of days.
    found = cli.json(purge, ZOOMHOOKS_RETENTION_TIMELINE_DAYS="30")
    assert found["rows"] == {"participant_events": 1}
    assert timeline_rows(runtime) == 0


def test_purge_without_an_age_says_what_to_give(cli: Cli) -> None:
    result = cli(purge)
    assert result.exit_code == 2
    assert "--events-days" in result.output and "ZOOMHOOKS_RETENTION_EVENTS_DAYS" in result.output


def test_erase_removes_one_person_everywhere_and_nobody_else(cli: Cli, runtime: Runtime) -> None:
    mine = processed(runtime, "meeting.participant_joined", joined("e==", 1, "Zoe@Example.com"))
    other = processed(runtime, "meeting.participant_joined", joined("e==", 2, "bo@example.com"))
    dry = cli.json(erase, "--email", "zoe@example.com", "--dry-run")
    assert dry["rows"]["participant_events"] == 1 and dry["rows"]["webhook_events"] == 1
    assert dry["rows"]["actions"] == 0
    assert timeline_rows(runtime) == 2

    cli.json(erase, "--email", "zoe@example.com")
    with runtime.engine.connect() as conn:
        left = conn.execute(select(participant_events.c.email)).scalars().all()
        inbox = conn.execute(select(webhook_events.c.id)).scalars().all()
    assert left == ["bo@example.com"]
    assert inbox == [other] and mine not in inbox


def test_erase_refuses_what_is_not_an_address(cli: Cli) -> None:
    result = cli(erase, "--email", "%")
    assert result.exit_code == 2 and "not an e-mail address" in result.output


def test_the_scheduled_purge(runtime: Runtime) -> None:
    old = processed(runtime, "meeting.started", started("s=="))
    aged(runtime, old, 10)
    keep = processed(runtime, "meeting.started", started("k=="))
    purger = Purger(runtime.engine, events=timedelta(days=7), timeline=None, interval_seconds=60)
    assert purger.tick() == {"webhook_events": 1}
    assert set(statuses(runtime)) == {keep}


def test_the_scheduled_purge_runs_only_when_configured(make_runtime: MakeRuntime) -> None:
    assert make_runtime(retention_events_days=7).purger is None  # no interval: manual only
    assert make_runtime(purge_interval_seconds=3600).purger is None  # nothing to purge
    scheduled = make_runtime(purge_interval_seconds=3600, retention_timeline_days=30).purger
    assert scheduled is not None and scheduled.interval_seconds == 3600


def test_an_ops_command_never_creates_a_missing_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from another directory than serve, the relative default path names no file: say so,
    rather than answer from a new empty database."""
    monkeypatch.chdir(tmp_path)
    result = Cli({"DATABASE_URL": None, "BROKER_URL": None})(stats)
    assert result.exit_code == 1
    assert f"no database at {tmp_path.resolve() / 'data' / 'zoomhooks.sqlite3'}" in result.output
    assert "relative to the working directory" in result.output
    assert not (tmp_path / "data" / "zoomhooks.sqlite3").exists()
