"""End to end over real sockets: a `webinar.ended` that Zoom dropped while the listener's
socket was dead still gets its follow-ups, through the reconcile of the gap."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from service.devtools.fakezoom import DEFAULT_ACCOUNT_ID, RunningFake
from service.runtime import Runtime
from service.storage.models import instances, websocket_gaps
from service.storage.types import utcnow
from tests.listen.conftest import SUBSCRIPTION, MakeListening, connected
from tests.processing.test_gaps import BACKFILLED, WEBINAR_ID, jobs_of
from tests.support import wait_until


def test_an_ended_event_lost_while_the_socket_was_dead_still_gets_its_follow_ups(
    make_listening: MakeListening, fake: RunningFake
) -> None:
    runtime = make_listening(workers=True)
    wait_until(connected(runtime, fake))
    sockets, world = fake.fake.sockets, fake.fake.world
    start = utcnow().replace(microsecond=0) - timedelta(minutes=40)
    webinar = world.add_webinar(WEBINAR_ID, participants=3, absentees=1, start_time=start)
    stale = world.add_webinar(WEBINAR_ID, start_time=start - timedelta(days=3))
    obj = {"id": str(WEBINAR_ID), "uuid": webinar.uuid, "topic": "T", "type": 5}
    started = {
        "event": "webinar.started",
        "event_ts": 1,
        "payload": {
            "account_id": DEFAULT_ACCOUNT_ID,
            "object": obj | {"start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ")},
        },
    }
    assert sockets.push(SUBSCRIPTION, started)
    wait_until(lambda: has_instance(runtime, webinar.uuid), timeout=10)
    muted_at = utcnow()
    sockets.mute(SUBSCRIPTION)
    ended = {"event": "webinar.ended", "event_ts": 2, "payload": started["payload"]}
    assert not sockets.push(SUBSCRIPTION, ended)  # Zoom drops it: nobody gets it
    wait_until(lambda: sockets.stats(SUBSCRIPTION).connections >= 2, timeout=5)
    sockets.mute(SUBSCRIPTION, False)
    wait_until(connected(runtime, fake))
    reconnected_by = utcnow()
    wait_until(
        lambda: sorted(jobs_of(runtime, webinar.uuid)) == ["done"] * len(BACKFILLED),
        timeout=20,
    )
    assert jobs_of(runtime, stale.uuid) == []
    with runtime.engine.connect() as conn:
        gap = dict(conn.execute(websocket_gaps.select()).one()._mapping)
    assert gap["status"] == "done" and gap["backfilled"] == 1
    # The window runs from the last heartbeat answer before the mute to the reconnect.
    assert muted_at - timedelta(seconds=1) <= gap["gap_from"] <= muted_at
    assert muted_at < gap["gap_to"] <= reconnected_by


def has_instance(runtime: Runtime, uuid: str) -> bool:
    with runtime.engine.connect() as conn:
        found = conn.execute(select(instances.c.zoom_id).where(instances.c.uuid == uuid)).all()
    return bool(found) and found[0].zoom_id == WEBINAR_ID
