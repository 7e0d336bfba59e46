"""The fake's building blocks without HTTP: world generation, UUID encoding, spec, schema."""

from __future__ import annotations

import tracemalloc
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.devtools.fakezoom import (
    FakeZoom,
    Spec,
    SpecViolation,
    World,
    create_app,
    decode_path_id,
    encode_path_id,
    make_uuid,
    needs_double_encoding,
)
from service.devtools.fakezoom.__main__ import build_fake, build_parser
from service.devtools.fakezoom.instance import REJOIN_BLOCK
from service.devtools.fakezoom.schema import validate


def test_same_arguments_give_the_same_world() -> None:
    a = World().add_webinar(1, "u1", participants=50, absentees=5, questions=7, polls=2, seed=3)
    b = World().add_webinar(1, "u1", participants=50, absentees=5, questions=7, polls=2, seed=3)
    c = World().add_webinar(1, "u1", participants=50, absentees=5, questions=7, polls=2, seed=4)
    assert list(a.iter_participants()) == list(b.iter_participants())
    assert list(a.iter_absentees()) == list(b.iter_absentees())
    assert (a.qa(), a.poll_results()) == (b.qa(), b.poll_results())
    assert list(a.iter_participants()) != list(c.iter_participants())


def test_rejoins_repeat_the_person_with_later_times() -> None:
    inst = World().add_meeting(7, "m", participants=3 * REJOIN_BLOCK + 4, seed=1)
    rows = list(inst.iter_participants())
    assert inst.persons == 3 * (REJOIN_BLOCK - 1) + 4
    rejoins = [r for r in range(len(rows)) if inst.person_of_row(r)[1]]
    assert len(rejoins) == 3
    for row in rejoins:
        person = inst.person_of_row(row)[0]
        first = next(r for r in range(len(rows)) if inst.person_of_row(r) == (person, False))
        again, before = rows[row], rows[first]
        assert (again["user_id"], again["name"], again["id"]) == (
            before["user_id"],
            before["name"],
            before["id"],
        )
        assert again["join_time"] > before["leave_time"]
    keys = {(r["user_id"], r["join_time"]) for r in rows}
    assert len(keys) == len(rows), "(user_id, join_time) is unique even with rejoins"


def test_rows_carry_hard_unicode_guests_and_zoom_timestamps() -> None:
    inst = World().add_webinar(1, "u", participants=400, seed=0)
    rows = list(inst.iter_participants())
    names = [r["name"] for r in rows]
    assert any(not n.isascii() for n in names)
    assert any("\u200d" in n for n in names), "an emoji ZWJ sequence"
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in n) for n in names), "CJK"
    assert any(unicodedata.normalize("NFC", n) != n for n in names), "an NFD name"
    guests = [r for r in rows if r["id"] == ""]
    assert guests
    assert all(g["user_email"] == "" for g in guests)
    assert all(r["join_time"].endswith("Z") and len(r["join_time"]) == 20 for r in rows)


def test_qa_may_be_empty_and_polls_have_several_questions() -> None:
    world = World()
    quiet = world.add_meeting(1, "quiet", participants=10, questions=0, polls=0)
    assert quiet.qa() == []
    assert quiet.poll_results() == []
    busy = world.add_webinar(2, "busy", participants=40, questions=12, polls=3, seed=9)
    assert sum(len(q["question_details"]) for q in busy.qa()) == 12
    results = busy.poll_results()
    per_poll: dict[str, set[str]] = {}
    for respondent in results:
        for d in respondent["question_details"]:
            per_poll.setdefault(d["polling_id"], set()).add(d["question"])
    assert len(per_poll) == 3
    assert all(len(questions) >= 2 for questions in per_poll.values())
    assert any(";" in d["answer"] for r in results for d in r["question_details"])


def test_numeric_id_means_the_latest_instance() -> None:
    world = World()
    first = world.add_webinar(5, participants=1)
    latest = world.add_webinar(5, participants=2)
    assert world.lookup("webinar", "5") == latest
    assert world.lookup("webinar", first.uuid) == first
    assert world.lookup("meeting", "5") is None
    with pytest.raises(ValueError, match="already exists"):
        world.add_webinar(6, first.uuid)


def test_a_huge_webinar_costs_almost_nothing_until_read() -> None:
    tracemalloc.start()
    try:
        inst = World().add_webinar(1, "big", participants=100_000, absentees=100_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200_000, f"adding the webinar allocated {peak} bytes"
    assert inst.participant(99_999)["user_id"]
    with pytest.raises(IndexError):
        inst.participant(100_000)


def test_make_uuid() -> None:
    assert needs_double_encoding(make_uuid(1, needs_double_encoding=True))
    plain = [make_uuid(seed) for seed in range(200)]
    assert not any(needs_double_encoding(u) for u in plain)
    assert all(len(u) == 24 and u.endswith("==") for u in plain)


uuids = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", min_size=1
)


@given(uuids)
def test_encoded_ids_decode_back(uuid: str) -> None:
    decoded = decode_path_id(encode_path_id(uuid))
    assert decoded.value == uuid
    assert not decoded.under_encoded


def test_decoding_catches_a_missing_second_encoding() -> None:
    assert encode_path_id("/abc//d==") == "%252Fabc%252F%252Fd%253D%253D"
    assert encode_path_id("ab/cd==") == "ab%2Fcd%3D%3D"
    assert decode_path_id("%2Fabc%2F%2Fd%3D%3D").under_encoded
    assert not decode_path_id("ab%252Fcd%253D%253D").under_encoded  # needless, but harmless
    assert decode_path_id("85746065").is_numeric


def test_spec_knows_operations_and_categories() -> None:
    spec = Spec.load()
    # 22 paths as cut in 2023, plus /webinars/{webinarId}/registrants/status for actions and
    # /meetings/{meetingId}/recordings for the recordings backfill.
    assert len({op.template for op in spec.operations.values()}) == 24
    assert spec.operation("recordingGet").category == "Light"
    assert spec.operation("recordingGet").scopes == ("recording:read", "phone_recording:read:admin")
    assert spec.operation("webinarRegistrantStatus").category == "Medium"
    assert spec.operation("meetingUpdate").category == "Light"
    assert spec.operation("listWebinarParticipants").category == "Medium"
    assert spec.operation("webinarAbsentees").category == "Heavy"
    assert spec.operation("pastWebinars").category == "Light"
    assert spec.operation("pastMeetingParticipants").category == "Medium"
    assert spec.operation("webinarRegistrants").category == "Medium"
    for report in ("Webinar", "Meeting"):
        assert spec.operation(f"report{report}Details").category == "Heavy"
        assert spec.operation(f"report{report}Participants").category == "Heavy"


def test_spec_routes_on_the_raw_path() -> None:
    spec = Spec.load()
    match = spec.route("GET", "/v2/past_meetings/%252Fa%252F%252Fb/qa", "")
    assert match.operation.operation_id == "listPastMeetingQA"
    assert match.raw_params == {"meetingId": "%252Fa%252F%252Fb"}
    assert spec.route("GET", "/v2/past_meetings/123/instances", "").operation.operation_id == (
        "pastMeetings"
    )
    with pytest.raises(SpecViolation) as caught:
        spec.route("GET", "/v2/past_meetings/a/b/qa", "")
    assert caught.value.detail["reason"] == "unknown_path"
    with pytest.raises(SpecViolation) as caught:
        spec.route("GET", "/v2/past_meetings/1/participants", "page_size=30&page_size=30")
    assert caught.value.detail["reason"] == "repeated_query_parameter"


def test_schema_validator() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"type": "integer", "maximum": 3},
            "t": {"type": "string", "format": "date-time"},
            "s": {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}},
        },
    }
    assert validate(schema, {"a": 1, "t": "2019-02-01T12:34:12Z", "s": ["x"], "extra": 0}) == []
    problems = validate(schema, {"a": True, "t": "2019-02-01T12:34:12.6600000+00:00", "s": ["z"]})
    assert len(problems) == 3
    assert validate(schema, {"a": 4}) == ["$.a: 4 > maximum 3"]
    assert validate(schema, {}) == ["$: missing required 'a'"]


def test_command_line_builds_the_described_world() -> None:
    parser = build_parser()
    args = parser.parse_args(
        [
            "--webinar",
            "id=81234567890,participants=1000,absentees=20,questions=5,polls=2,seed=7",
            "--meeting",
            "id=93398114182,uuid=/abc//d==,participants=50,registration=true",
            "--token-lifetime",
            "120",
            "--extra-account",
            "acct-b:client-b:se:cret",
        ]
    )
    fake = build_fake(args)
    assert [(a.account_id, a.client_id, a.client_secret) for a in fake.accounts][1:] == [
        ("acct-b", "client-b", "se:cret")
    ]
    (webinar,) = fake.world.instances("webinar")
    assert (webinar.id, webinar.participants, webinar.absentees, webinar.seed) == (
        81234567890,
        1000,
        20,
        7,
    )
    assert fake.world.meeting("/abc//d==").registration
    assert fake.access_tokens.lifetime == 120
    with pytest.raises(SystemExit):
        parser.parse_args(["--webinar", "participants=5"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--extra-account", "acct-b:client-b"])


def test_create_app_exposes_its_fake() -> None:
    world = World()
    app = create_app(world, token_lifetime=5)
    fake = app.state.fakezoom
    assert isinstance(fake, FakeZoom)
    assert fake.world is world
