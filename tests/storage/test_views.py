"""The ops views on SQLite and PostgreSQL, checked against the fake Zoom's ground truth."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import text

from service.devtools.fakezoom import Instance, RunningFake
from service.processing.live import FOLLOWUP_RESOURCES
from service.runtime import Runtime
from tests.conftest import MakeRuntime
from tests.support import event_body, followups_done, signed_headers, wait_until

WEBINAR_ID = 81234567890


@pytest.fixture
def webinar(
    make_runtime: MakeRuntime,
    zoom_settings: dict[str, Any],
    fake_zoom: RunningFake,
    database_url: str,
) -> tuple[Runtime, Instance]:
    runtime = make_runtime(database_url=database_url, **zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(
        WEBINAR_ID, participants=120, absentees=30, questions=8, polls=2, seed=5
    )
    for i in range(7):  # seven approved registrations, one of them cancelled later
        registrant = {"id": f"r{i}", "email": f"r{i}@example.com"}
        body = event_body(
            "webinar.registration_created",
            {"id": WEBINAR_ID, "registrant": {**registrant, "status": "approved"}},
            event_ts=100 + i,
        )
        runtime.processor.process(runtime.ingestor.ingest(body, signed_headers(body)).inbox_id)  # type: ignore[union-attr]
    cancel = event_body(
        "webinar.registration_cancelled",
        {"id": WEBINAR_ID, "registrant": {"id": "r0"}},
        event_ts=500,
    )
    runtime.processor.process(runtime.ingestor.ingest(cancel, signed_headers(cancel)).inbox_id)  # type: ignore[union-attr]
    runtime.start_workers()
    ended = event_body("webinar.ended", {"id": str(WEBINAR_ID), "uuid": inst.uuid}, event_ts=900)
    runtime.ingestor.ingest(ended, signed_headers(ended))
    wait_until(
        lambda: followups_done(runtime, len(FOLLOWUP_RESOURCES["webinar"])),
        timeout=30,
    )
    return runtime, inst


def query(runtime: Runtime, sql: str) -> list[dict[str, Any]]:
    with runtime.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql))]


def registrant_listing(inst: Instance, status: str) -> tuple[int, Any]:
    from service.devtools.fakezoom import reports

    return reports.registrants(inst, status)


def person(email: str, name: str) -> str:
    return email or name


def test_attendance_summary(webinar: tuple[Runtime, Instance]) -> None:
    runtime, inst = webinar
    rows = list(inst.iter_participants())
    attended = len({person(r["user_email"], r["name"]) for r in rows})
    seconds = sum(r["duration"] for r in rows)
    (summary,) = query(runtime, "SELECT * FROM attendance_summary")
    assert summary["instance_uuid"] == inst.uuid
    # The six approved by live events (r1..r6, not in Zoom's listing) and the listing's approved.
    assert summary["registrants"] == 6 + registrant_listing(inst, "approved")[0]
    assert summary["attended"] == attended
    assert summary["absent"] == 30
    assert float(summary["attendance_rate"]) == pytest.approx(attended / (attended + 30), abs=6e-4)
    assert float(summary["avg_minutes"]) == pytest.approx(seconds / 60 / attended, abs=0.051)


def test_participant_engagement(webinar: tuple[Runtime, Instance]) -> None:
    runtime, inst = webinar
    minutes: dict[str, float] = defaultdict(float)
    stints: dict[str, int] = defaultdict(int)
    for r in inst.iter_participants():
        key = person(r["user_email"], r["name"])
        minutes[key] += r["duration"] / 60
        stints[key] += 1
    questions: dict[str, int] = defaultdict(int)
    for asker in inst.qa():
        questions[person(asker["email"], asker["name"])] += len(asker["question_details"])
    answers: dict[str, int] = defaultdict(int)
    for respondent in inst.poll_results():
        answers[person(respondent["email"], respondent["name"])] += len(
            respondent["question_details"]
        )
    found = {r["person"]: r for r in query(runtime, "SELECT * FROM participant_engagement")}
    assert set(found) == set(minutes)
    for key, row in found.items():
        assert row["stints"] == stints[key]
        assert float(row["minutes"]) == pytest.approx(minutes[key], abs=0.051)
        assert row["questions"] == questions.get(key, 0)
        assert row["poll_answers"] == answers.get(key, 0)
    assert any(r["stints"] > 1 for r in found.values())  # rejoins add up
    assert any(r["poll_answers"] for r in found.values())


def test_followup_health(webinar: tuple[Runtime, Instance]) -> None:
    runtime, _ = webinar
    health = {r["resource"]: r for r in query(runtime, "SELECT * FROM followup_health")}
    assert {r["status"] for r in health.values()} == {"done"}
    assert health["participants"]["rows_stored"] == 120
    assert health["absentees"]["rows_stored"] == 30
    assert all(r["jobs"] == 1 for r in health.values())
