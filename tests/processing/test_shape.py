"""Row shaping is pure: REST records and webhook bodies in, rows out (from Zoom's shapes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from service.processing import shape
from service.webhooks.events import parse
from tests.support import FIXTURES, WEBHOOKS, compact

REST = FIXTURES / "rest-responses"


def rest(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REST / name).read_text(encoding="utf-8"))
    return data


def test_participants_keep_zoom_fields_and_times() -> None:
    records = rest("past_webinars-{webinarId}-participants_GET.json")["participants"]
    (row,) = shape.participant_rows(records)
    assert row["id"] == "30R7kT7bTIKSNUFEuH_Qlg"
    assert row["user_email"] == "jchill@example.com"
    assert row["join_time"] == datetime(2019, 2, 1, 12, 34, 12, 660000, tzinfo=UTC)
    assert row["duration"] == 20
    assert row["failover"] is False
    assert len(row["row_key"]) == 64


def test_a_rejoin_is_a_second_row_and_the_same_listing_gives_the_same_keys() -> None:
    first = {"id": "A", "user_id": "1", "name": "Ana", "join_time": "2024-01-01T10:00:00Z"}
    rejoin = {**first, "join_time": "2024-01-01T10:30:00Z"}
    keys = [r["row_key"] for r in shape.participant_rows([first, rejoin])]
    assert len(set(keys)) == 2
    assert keys == [r["row_key"] for r in shape.participant_rows([first, rejoin])]


def test_absentees_keep_the_whole_record() -> None:
    records = rest("past_webinars-{webinarId}-absentees_GET.json")["registrants"]
    rows = list(shape.absentee_rows(records))
    assert rows[0]["id"] == "9tboDiHUQAeOnbmudzWa5g"
    assert json.loads(rows[0]["data"])["custom_questions"][0]["title"].startswith("What do you")


@pytest.mark.parametrize(
    "name", ["past_webinars-{webinarId}-qa_GET.json", "past_meetings-{meetingId}-qa_GET.json"]
)
def test_qa_is_one_row_per_question(name: str) -> None:
    rows = list(shape.qa_rows(rest(name)["questions"]))
    assert rows
    assert all(r["question"] for r in rows)


def test_the_same_question_twice_by_one_person_stays_two_rows() -> None:
    asker = {"name": "Ana", "email": "a@x", "question_details": [{"question": "Why?"}] * 2}
    keys = {r["row_key"] for r in shape.qa_rows([asker])}
    assert len(keys) == 2


def test_polls_are_one_row_per_respondent_and_question() -> None:
    records = rest("past_webinars-{webinarId}-polls_GET.json")["questions"]
    (row,) = shape.poll_rows(records)
    assert row["polling_id"] == "QalIoKWLTJehBJ8e1xRrbQ"
    assert row["answer"] == "Good"
    assert row["date_time"] == datetime(2022, 3, 26, 5, 37, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T14:10:56Z", datetime(2024, 3, 1, 14, 10, 56, tzinfo=UTC)),
        ("2024-03-01T16:10:56+02:00", datetime(2024, 3, 1, 14, 10, 56, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("yesterday", None),
        (12, None),
    ],
)
def test_zoom_time(value: Any, expected: datetime | None) -> None:
    assert shape.zoom_time(value) == expected


def test_text_that_no_database_takes_is_made_safe() -> None:
    assert shape.text("a\x00b") == "a\ufffdb"
    assert shape.text("a\ud800b") == "a\ufffdb"
    assert shape.text("plain ? question") == "plain ? question"
    assert shape.to_json({"x": "\ud800"}) == '{"x":"\ufffd"}'


def test_webhook_rows_from_fixtures() -> None:
    started = parse(compact(WEBHOOKS / "meeting.started.json"))
    row = shape.instance_row(started)
    assert row is not None
    assert row["kind"] == "meeting"
    assert row["zoom_id"] == 1234567890  # a number in this fixture, a string in others
    assert row["end_time"] is None
    joined = parse(compact(WEBHOOKS / "webinar.participant_joined.json"))
    event_row = shape.participant_event_row(joined, inbox_id=7)
    assert event_row is not None
    assert event_row["action"] == "joined"
    assert event_row["inbox_id"] == 7
    registered = parse(compact(WEBHOOKS / "webinar.registration_created.json"))
    registrant = shape.registrant_row(registered, inbox_id=8)
    assert registrant is not None
    assert registrant["status"] == "approved"
