"""Issue "Follow-ups", done when: a signed `webinar.ended` sent to a running `zoomhooks serve`
pointed at the fake Zoom fills every table within seconds (delays 0), and the same after
faults and redeliveries."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    RunningFake,
)
from service.processing.live import FOLLOWUP_RESOURCES
from service.storage.models import absentees, followups, participants, poll_answers, qa_entries
from tests.support import SECRET, event_body, signed_headers, start_serve, wait_until

pytestmark = pytest.mark.slow


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            result = {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (participants, absentees, qa_entries, poll_answers)
            }
            done = conn.execute(
                select(func.count()).select_from(followups).where(followups.c.status == "done")
            ).scalar_one()
    finally:
        engine.dispose()
    return {**result, "done": int(done)}


def test_webinar_ended_to_a_running_service(tmp_path: Path, fake_zoom: RunningFake) -> None:
    database = f"sqlite:///{tmp_path / 'zh.sqlite3'}"
    fake = fake_zoom.fake
    inst = fake.world.add_webinar(
        81234567890, participants=900, absentees=40, questions=6, polls=2, seed=11
    )
    fake.faults.rate_limit("/v2/past_webinars/*/participants", count=1, retry_after="1")
    fake.faults.server_error("/v2/past_webinars/*/absentees", count=1, status=502)
    fake.faults.not_ready("/v2/past_webinars/*/qa", count=2)
    fake.faults.token_invalid("/v2/past_webinars/*/polls", count=1)
    service = start_serve(
        tmp_path,
        {
            "DATABASE_URL": database,
            "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
            "ZOOMHOOKS_QUEUE_PREFIX": f"zhe_{uuid.uuid4().hex[:8]}",
            "ZOOM_ACCOUNT_ID": DEFAULT_ACCOUNT_ID,
            "ZOOM_CLIENT_ID": DEFAULT_CLIENT_ID,
            "ZOOM_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
            "ZOOM_API_BASE_URL": fake_zoom.api_url,
            "ZOOM_OAUTH_URL": fake_zoom.oauth_url,
            "ZOOMHOOKS_FOLLOWUP_DELAY_SECONDS": "0",
            "ZOOMHOOKS_NOT_READY_RETRY_SECONDS": "0.2",
        },
    )
    try:
        body = event_body("webinar.ended", {"id": str(inst.id), "uuid": inst.uuid}, event_ts=77)
        for _ in range(3):  # Zoom redelivers
            response = httpx.post(
                service.url + "/webhooks/zoom",
                content=body,
                headers=signed_headers(body),
                timeout=5,
            )
            assert response.status_code == 200
        expected = {
            "participants": 900,
            "absentees": 40,
            "qa_entries": sum(len(q["question_details"]) for q in inst.qa()),
            "poll_answers": sum(len(p["question_details"]) for p in inst.poll_results()),
            "done": len(FOLLOWUP_RESOURCES["webinar"]),
        }
        wait_until(lambda: counts(database) == expected, timeout=30, interval=0.2)
        # Calls: the minimum pages plus exactly the faults injected.
        assert fake.calls("listWebinarParticipants") == 3 + 1
        assert fake.calls("webinarAbsentees") == 1 + 1
        assert fake.calls("listPastWebinarQA") == 1 + 2
        assert fake.tokens_issued == 2  # the first, and one renewal after the injected 124
    finally:
        service.stop()
    # A restart finds nothing to redo.
    again = start_serve(
        tmp_path,
        {"DATABASE_URL": database, "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET},
        name="serve-again",
    )
    try:
        assert counts(database) == expected
    finally:
        again.stop()
