"""`zoomhooks instances show UUID`: one instance's attendance, data and follow-up states."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from service.ops import instances_group
from service.processing.live import FOLLOWUP_RESOURCES
from service.runtime import Runtime
from service.storage.models import absentees, participants, poll_answers, qa_entries
from tests.ops.populate import Cli, ended, job_ids, processed, set_followup


def joined(uuid: str, n: int) -> dict[str, Any]:
    person = {"id": f"p{n}", "user_name": f"Zoë {n}", "email": f"p{n}@example.com"}
    return {
        "id": "81234567890",
        "uuid": uuid,
        "participant": {**person, "join_time": "2024-03-01T14:05:00Z"},
    }


def test_instances_show_sums_up_one_webinar(cli: Cli, runtime: Runtime) -> None:
    processed(runtime, "webinar.ended", ended("S=="))
    for n in range(3):
        processed(runtime, "webinar.participant_joined", joined("S==", n))
    jobs = job_ids(runtime)
    set_followup(runtime, jobs["qa"], status="failed", last_error="Zoom 4711: missing scope")
    registrant = {"id": "r1", "email": "r@x.org", "status": "pending"}
    processed(
        runtime, "webinar.registration_created", {"id": 81234567890, "registrant": registrant}
    )
    found = cli.json(instances_group, "show", "S==")
    assert found["counts"]["registrants_pending"] == 1
    assert found["instance"]["kind"] == "webinar" and found["instance"]["uuid"] == "S=="
    assert found["counts"]["live_timeline"] == 3
    assert found["counts"]["participants"] == 0 and "registrants" in found["counts"]
    states = {job["resource"]: job["status"] for job in found["followups"]}
    assert states == dict.fromkeys(FOLLOWUP_RESOURCES["webinar"], "pending") | {"qa": "failed"}
    shown = cli(instances_group, "show", "S==")
    assert shown.exit_code == 0, shown.output
    assert "live join/leave events" in shown.stdout and "missing scope" in shown.stdout


def test_instances_show_of_an_unknown_uuid(cli: Cli, runtime: Runtime) -> None:
    result = cli(instances_group, "show", "nope==")
    assert result.exit_code == 1 and "no instance nope==" in result.output


def test_instances_show_counts_people_as_the_views_do(cli: Cli, runtime: Runtime) -> None:
    """Two guests without an address are two people (by name), a rejoin is one, and the
    figures agree with attendance_summary."""
    processed(runtime, "webinar.ended", ended("A=="))
    stints = [
        ("zoe@example.com", "Zoë", 600),
        ("zoe@example.com", "Zoë", 1200),
        ("", "Guest One", 300),
        ("", "Guest Two", 900),
    ]
    with runtime.engine.begin() as conn:
        for n, (email, name, seconds) in enumerate(stints):
            conn.execute(
                insert(participants).values(
                    instance_uuid="A==",
                    row_key=str(n),
                    id="",
                    user_email=email,
                    name=name,
                    duration=seconds,
                )
            )
        conn.execute(insert(absentees).values(instance_uuid="A==", row_key="a", data="{}"))
        for n, answer in enumerate(["yes", None]):
            conn.execute(
                insert(qa_entries).values(
                    instance_uuid="A==", row_key=str(n), question="?", answer=answer, data="{}"
                )
            )
        for n in range(2):
            conn.execute(
                insert(poll_answers).values(
                    instance_uuid="A==", row_key=str(n), email="zoe@example.com", polling_id="p1"
                )
            )
    found = cli.json(instances_group, "show", "A==")
    assert found["attendance"] == {
        "registrants_approved": 0,
        "attended": 3,
        "absent": 1,
        "attendance_rate": 0.75,
        "avg_minutes": 16.7,
        "questions": 2,
        "answered": 1,
        "polls": 1,
        "poll_respondents": 1,
    }
    assert found["counts"]["participants"] == 4
    shown = cli(instances_group, "show", "A==")
    assert "attended (distinct people)" in shown.stdout and "0.75" in shown.stdout
