"""Shaping of the registrants listing and the reports: Zoom's sample responses in, rows out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from service.devtools.fakezoom import Spec, World
from service.devtools.fakezoom import reports as fake_reports
from service.processing import shape, shape_reports
from service.webhooks.events import parse
from tests.processing.test_shape import rest
from tests.support import WEBHOOKS, compact

LISTED_AT = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)


def test_listed_registrants_take_the_listing_status_and_time() -> None:
    records = rest("webinars-{webinarId}-registrants_GET.json")["registrants"]
    (row,) = shape_reports.listed_registrant_rows(
        records, webinar_id=99, status="pending", listed_at=LISTED_AT
    )
    assert (row["webinar_id"], row["id"], row["status"]) == (
        99,
        "9tboDiHUQAeOnbmudzWa5g",
        "pending",
    )
    assert row["email"] == "jchill@example.com" and row["first_name"] == "Jill"
    assert row["create_time"] == datetime(2022, 3, 22, 5, 59, 9, tzinfo=UTC)
    assert row["event_ts"] == int(LISTED_AT.timestamp() * 1000)
    assert row["listed_at"] == LISTED_AT and row["inbox_id"] is None
    assert json.loads(row["data"])["org"] == "Cooking Org"


def test_a_registrant_without_id_is_skipped() -> None:
    rows = shape_reports.listed_registrant_rows(
        [{"email": "a@example.com"}, {"id": "", "email": "b@example.com"}],
        webinar_id=1,
        status="approved",
        listed_at=LISTED_AT,
    )
    assert list(rows) == []


def test_custom_questions_become_one_answer_each() -> None:
    (record,) = rest("webinars-{webinarId}-registrants_GET.json")["registrants"]
    (answer,) = shape_reports.answer_rows(99, record["id"], record)
    assert answer["title"] == "What do you hope to learn from this?"
    assert answer["value"].startswith("Look forward to learning")
    twice = {
        "custom_questions": [
            {"title": "Q", "value": "first"},
            {"title": "Q", "value": "second"},
            {"title": "", "value": "untitled"},
            "junk",
            {"title": "x" * 400, "value": None},
        ]
    }
    rows = shape_reports.answer_rows(1, "r", twice)
    assert [(r["title"][:3], r["value"]) for r in rows] == [("Q", "second"), ("xxx", None)]
    assert len(rows[1]["title"]) == shape_reports.MAX_TITLE
    assert shape_reports.answer_rows(1, "r", {"custom_questions": None}) == []


def test_the_live_event_and_the_listing_give_the_same_answers() -> None:
    event = parse(compact(WEBHOOKS / "webinar.registration_created.json"))
    row = shape.registrant_row(event, inbox_id=1)
    assert row is not None
    registrant = event.object["registrant"]
    answers = shape_reports.answer_rows(row["webinar_id"], row["id"], registrant)
    assert [(a["webinar_id"], a["registrant_id"]) for a in answers] == [
        (1234567890, "iFxeBPYun6SAiWUzBcEkX")
    ]


def test_report_participants_keep_the_report_fields() -> None:
    for name, key_field in (
        ("report-webinars-{webinarId}-participants_GET.json", "ABCDEF123456"),
        ("report-meetings-{meetingId}-participants_GET.json", "30R7kT7bTIKSNUFEuH_Qlg"),
    ):
        (row,) = shape_reports.report_participant_rows(rest(name)["participants"])
        assert row["id"] == key_field
        assert row["customer_key"] == "349589LkJyeW"
        assert row["participant_user_id"] == "DYHrdpjrS3uaOf7dPkkg8w"
        assert row["failover"] is False and row["status"] == "in_meeting"
        assert row["registrant_id"] and len(row["row_key"]) == 64
        assert row["join_time"] is not None and row["join_time"].tzinfo is UTC
    meeting = rest("report-meetings-{meetingId}-participants_GET.json")["participants"]
    (row,) = shape_reports.report_participant_rows(meeting)
    assert row["bo_mtg_id"] == "27423744" and row["duration"] == 259


def test_details_from_a_spec_valid_report() -> None:
    inst = World().add_webinar(5, participants=3, seed=1)
    body = fake_reports.report_details(inst)
    assert Spec.load().validate_response("reportWebinarDetails", body) == []
    (row,) = shape_reports.details_rows([body])
    assert (row["zoom_id"], row["topic"], row["type"]) == (5, inst.topic, 5)
    assert row["host_email"] == "host@example.com" and row["duration"] == 60
    assert row["start_time"] == inst.start_time
    assert json.loads(row["custom_keys"]) == body["custom_keys"]
    assert json.loads(row["tracking_fields"]) == body["tracking_fields"]
    (bare,) = shape_reports.details_rows([{"id": "x"}])
    assert bare["zoom_id"] is None and bare["custom_keys"] is None
