"""Disconnect gaps of a WebSocket subscription, reconciled against Zoom's past instances: the
right window, only the held subscriptions', retries. End to end over real sockets:
tests/listen/test_gap_reconcile.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from service.devtools.fakezoom import DEFAULT_ACCOUNT_ID, RunningFake
from service.processing.backfill import backfill_resources
from service.processing.gaps import GapReconciler
from service.processing.live import FOLLOWUP_RESOURCES
from service.runtime import Runtime
from service.storage import records
from service.storage.gaps import Gaps
from service.storage.models import followups, websocket_gaps
from service.storage.types import utcnow
from tests.listen.conftest import SUBSCRIPTION

WEBINAR_ID = 81234567890
LOOKBACK = timedelta(hours=24)

#: What a backfill fetches of a webinar: the live follow-ups and its recording.
BACKFILLED = backfill_resources(FOLLOWUP_RESOURCES)["webinar"]


def known(runtime: Runtime, uuid: str, start: datetime) -> None:
    """The webinar number is one this database has seen (an earlier event named it)."""
    row = {
        "uuid": uuid,
        "zoom_id": WEBINAR_ID,
        "kind": "webinar",
        "account_id": DEFAULT_ACCOUNT_ID,
        "start_time": start,
    }
    with runtime.engine.begin() as conn:
        records.upsert_instance(conn, row, None)


def jobs_of(runtime: Runtime, uuid: str) -> list[str]:
    with runtime.engine.connect() as conn:
        return list(
            conn.execute(
                select(followups.c.status).where(followups.c.instance_uuid == uuid)
            ).scalars()
        )


def gap_row(runtime: Runtime, gap_id: int) -> dict[str, Any]:
    with runtime.engine.connect() as conn:
        row = conn.execute(websocket_gaps.select().where(websocket_gaps.c.id == gap_id)).one()
    return dict(row._mapping)


def reconciler(runtime: Runtime, scheduled: list[int], **kw: Any) -> GapReconciler:
    return GapReconciler(
        Gaps(runtime.engine),
        runtime.backfiller,
        lambda job_id, _at: scheduled.append(job_id),
        lambda: {SUBSCRIPTION},
        lookback=LOOKBACK,
        max_attempts=kw.pop("max_attempts", 3),
        **kw,
    )


def record(runtime: Runtime, start: datetime, end: datetime) -> int:
    return Gaps(runtime.engine).record(
        subscription_id=SUBSCRIPTION,
        app="default",
        account_id=DEFAULT_ACCOUNT_ID,
        gap_from=start,
        gap_to=end,
        due_at=end,
    )


def test_a_gap_backfills_the_instances_that_may_have_ended_in_it(
    make_runtime: Any, zoom_settings: dict[str, Any], fake_zoom: RunningFake, database_url: str
) -> None:
    runtime = make_runtime(database_url=database_url, **zoom_settings)
    now = utcnow().replace(microsecond=0)
    gap_from, gap_to = now - timedelta(minutes=20), now - timedelta(minutes=5)
    world = fake_zoom.fake.world
    # Started before the gap (within the lookback) and ended in it: missed.
    ended_in_gap = world.add_webinar(WEBINAR_ID, start_time=gap_from - timedelta(hours=2))
    # Started and ended inside the gap: missed.
    inside = world.add_webinar(WEBINAR_ID, start_time=gap_from + timedelta(minutes=1))
    # Too old for this gap, started after it (its events came live), or already followed up.
    too_old = world.add_webinar(WEBINAR_ID, start_time=gap_from - LOOKBACK - timedelta(hours=1))
    after = world.add_webinar(WEBINAR_ID, start_time=gap_to + timedelta(minutes=1))
    covered = world.add_webinar(WEBINAR_ID, start_time=gap_from + timedelta(minutes=2))
    known(runtime, covered.uuid, covered.start_time)
    runtime.backfiller.create(runtime.backfiller.instances("webinar", covered.uuid)[0])
    gap_id = record(runtime, gap_from, gap_to)
    scheduled: list[int] = []
    assert reconciler(runtime, scheduled).tick() == 1
    assert len(jobs_of(runtime, ended_in_gap.uuid)) == len(BACKFILLED)
    assert len(jobs_of(runtime, inside.uuid)) == len(BACKFILLED)
    for left_alone in (too_old, after):
        assert jobs_of(runtime, left_alone.uuid) == []
    assert len(scheduled) == 2 * len(BACKFILLED)  # handed to the workers at once
    row = gap_row(runtime, gap_id)
    assert (row["status"], row["backfilled"], row["attempts"]) == ("done", 2, 1)
    # Done is done: another round finds nothing due.
    assert reconciler(runtime, scheduled).tick() == 0


def test_only_the_held_subscriptions_gaps_and_only_once_due(
    make_runtime: Any, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    now = utcnow()
    gaps = Gaps(runtime.engine)
    gaps.record(
        subscription_id="another",
        app="other",
        account_id=DEFAULT_ACCOUNT_ID,
        gap_from=now,
        gap_to=now,
        due_at=now,
    )
    gaps.record(
        subscription_id=SUBSCRIPTION,
        app="default",
        account_id=DEFAULT_ACCOUNT_ID,
        gap_from=now,
        gap_to=now,
        due_at=now + timedelta(minutes=5),
    )
    assert reconciler(runtime, []).tick() == 0


def test_a_failed_check_is_retried_later_then_given_up(
    make_runtime: Any, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    now = utcnow()
    known(runtime, "some-uuid==", now - timedelta(hours=1))
    fake_zoom.fake.faults.server_error("/v2/past_webinars/*/instances", count=None, status=400)
    gap_id = record(runtime, now - timedelta(minutes=3), now)
    scheduled: list[int] = []
    job = reconciler(runtime, scheduled, max_attempts=2, retry_base=0.0)
    assert job.tick() == 0
    row = gap_row(runtime, gap_id)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert f"webinar {WEBINAR_ID}" in row["last_error"]
    assert job.tick() == 0
    row = gap_row(runtime, gap_id)
    assert (row["status"], row["attempts"]) == ("failed", 2)
    assert scheduled == []
