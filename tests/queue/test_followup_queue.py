"""Follow-ups through each broker, including the delayed messages that 429s and "not ready"
answers turn into, and the access token shared by workers through the database."""

from __future__ import annotations

import threading
from typing import Any

from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    RunningFake,
)
from service.processing.live import FOLLOWUP_RESOURCES
from service.storage.tokens import DatabaseTokenStore
from service.zoom import ZoomClient
from tests.conftest import MakeRuntime
from tests.support import event_body, followups_done, signed_headers, wait_until


def test_followups_with_waits_on_every_broker(
    make_runtime: MakeRuntime,
    zoom_settings: dict[str, Any],
    fake_zoom: RunningFake,
    broker_url: str | None,
) -> None:
    runtime = make_runtime(broker_url=broker_url, **zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(81234567890, participants=301, absentees=2, polls=1)
    fake_zoom.fake.faults.rate_limit("/v2/past_webinars/*/participants", count=1, retry_after="1")
    fake_zoom.fake.faults.not_ready("/v2/past_webinars/*/polls", count=1)
    runtime.start_workers()
    body = event_body("webinar.ended", {"id": str(inst.id), "uuid": inst.uuid}, event_ts=5)
    runtime.ingestor.ingest(body, signed_headers(body))
    wait_until(
        lambda: followups_done(runtime, len(FOLLOWUP_RESOURCES["webinar"])),
        timeout=45,
    )
    assert fake_zoom.fake.calls("listWebinarParticipants", status=429) == 1
    assert fake_zoom.fake.calls("listWebinarParticipants", status=200) == 2


def test_concurrent_workers_share_one_token_through_the_database(
    make_runtime: MakeRuntime, fake_zoom: RunningFake, database_url: str
) -> None:
    runtime = make_runtime(database_url=database_url)
    inst = fake_zoom.fake.world.add_meeting(86431910364, participants=3)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def worker() -> None:
        # Each its own client, as each worker process has: only the database is shared.
        client = ZoomClient(
            account_id=DEFAULT_ACCOUNT_ID,
            client_id=DEFAULT_CLIENT_ID,
            client_secret=DEFAULT_CLIENT_SECRET,
            api_base_url=fake_zoom.api_url,
            oauth_url=fake_zoom.oauth_url,
            token_store=DatabaseTokenStore(runtime.engine),
        )
        try:
            barrier.wait()
            list(client.past_meeting_participants(inst.uuid))
        except BaseException as exc:
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert fake_zoom.fake.tokens_issued == 1
    assert fake_zoom.fake.calls("pastMeetingParticipants", status=200) == 6
