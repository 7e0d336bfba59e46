from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.zoom.endpoints import (
    ENDPOINTS,
    PAST_WEBINAR_ABSENTEES,
    PAST_WEBINAR_PARTICIPANTS,
    UPDATE_MEETING,
)
from service.zoom.errors import RULES, Outcome, action_fix, classify, missing_scopes
from service.zoom.exceptions import RateLimited, ZoomAPIError

FIXTURES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "error_bodies.json").read_text()
)


def _fields(body: dict[str, Any]) -> tuple[int | None, str]:
    code = body.get("code")
    return (code if isinstance(code, int) else None), str(body.get("message", ""))


@pytest.mark.parametrize("case", FIXTURES, ids=lambda c: f"{c['status']}-{c['body'].get('code')}")
def test_fixture_bodies_classify_as_expected(case: dict[str, Any]) -> None:
    code, message = _fields(case["body"])
    found = classify(case["status"], code, message, endpoint=PAST_WEBINAR_PARTICIPANTS)
    assert found.outcome == Outcome(case["outcome"]), case["source"]
    assert found.missing_scopes == tuple(case.get("missing", ()))
    if "advice" in case:
        assert case["advice"] in found.advice


def test_every_outcome_is_reachable_from_the_fixtures() -> None:
    assert {Outcome(case["outcome"]) for case in FIXTURES} == set(Outcome)


def test_every_rule_is_used_by_some_fixture() -> None:
    used = set()
    for case in FIXTURES:
        code, message = _fields(case["body"])
        used.add(id(classify(case["status"], code, message).rule))
    unused = [rule for rule in RULES if id(rule) not in used]
    assert unused == []


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.outcome}-{r.code}-{r.pattern}")
def test_every_advice_formats_for_every_endpoint(rule: Any) -> None:
    for endpoint in (*ENDPOINTS, None):
        text = rule.advice.format(endpoint="e", scopes="s", missing="m", message="z")
        assert "{" not in text
        assert classify(599, None, "", endpoint=endpoint).advice


def test_the_table_ends_with_a_catch_all() -> None:
    last = RULES[-1]
    assert (last.statuses, last.code, last.pattern) == (None, None, None)
    assert last.outcome is Outcome.FATAL


def test_scope_advice_names_the_missing_scope_and_the_endpoints_scopes() -> None:
    message = "Invalid access token, does not contain scopes:[webinar:read:list_absentees:admin]."
    found = classify(400, 4711, message, endpoint=PAST_WEBINAR_ABSENTEES)
    assert found.outcome is Outcome.PERMISSION
    assert "webinar:read:list_absentees:admin" in found.advice
    assert "webinar:read:admin" in found.advice  # the classic alternative
    assert "past_webinar_absentees" in found.advice


def test_schedule_for_advice_names_the_role_and_rules_out_scopes() -> None:
    found = classify(400, 3000, "You cannot schedule a meeting for weYlvJUTRtmzWbX7hwD4Kg.")
    assert found.outcome is Outcome.PERMISSION
    assert "role" in found.advice and "assistant" in found.advice
    assert "No OAuth scope fixes this" in found.advice


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("does not contain scopes:[a:b, c:d].", ("a:b", "c:d")),
        ('does not contain scopes:["a:b","c:d"]', ("a:b", "c:d")),
        ("does not contain scopes: [a:b]", ("a:b",)),
        ("No permission.", ()),
        ("scopes:[]", ()),
    ],
)
def test_missing_scopes(message: str, expected: tuple[str, ...]) -> None:
    assert missing_scopes(message) == expected


def test_first_matching_rule_wins() -> None:
    # 300 is both the expired page token and "Cannot access meeting information".
    assert classify(400, 300, "The next page token is invalid or expired.").outcome is (
        Outcome.PAGE_TOKEN_EXPIRED
    )
    assert classify(400, 300, "Cannot access meeting information.").outcome is Outcome.PERMISSION


def test_api_error_message_carries_facts_but_not_secrets() -> None:
    error = ZoomAPIError(
        Outcome.NOT_READY,
        "advice text",
        endpoint="past_meeting",
        status=404,
        zoom_code=3001,
        zoom_message="Meeting does not exist",
        tracking_id="v=2.0;clid=us05;rid=ABC",
    )
    text = str(error)
    assert text.startswith("advice text")
    assert "http=404" in text and "zoom_code=3001" in text and "rid=ABC" in text


def test_rate_limited_is_an_api_error_with_its_delay() -> None:
    error = RateLimited(12.0, "Medium", False, advice="slow down", endpoint="past_meeting_qa")
    assert isinstance(error, ZoomAPIError)
    assert error.outcome is Outcome.RATE_LIMITED
    assert (error.retry_after_seconds, error.category, error.daily) == (12.0, "Medium", False)
    assert "retry after 12s" in str(error)


def test_schedule_for_refusal_names_both_users_and_where_to_grant() -> None:
    message = "You cannot schedule a meeting for events@example.com."
    found = classify(400, 3000, message, endpoint=UPDATE_MEETING)
    assert found.outcome is Outcome.PERMISSION
    fix = action_fix(3000, message, actor="admin@example.com", target="events@example.com")
    assert fix is not None
    assert "admin@example.com lacks the scheduling privilege for events@example.com" in fix
    assert "sign in to the Zoom web portal as events@example.com" in fix
    assert "Schedule Privilege, and add admin@example.com" in fix


@pytest.mark.parametrize(
    ("code", "message", "wanted"),
    [
        (
            4711,
            "Invalid access token, does not contain scopes:[meeting:update:meeting:admin].",
            "Grant meeting:update:meeting:admin in the Zoom App Marketplace",
        ),
        (4711, "Invalid access token.", "this call needs meeting:update:meeting:admin"),
        (
            104,
            "Invalid access token, does not contain scopes:[meeting:write:admin]",
            "Grant meeting:write:admin",
        ),
        (3003, "Not meeting host.", "give admin@example.com a role with Meetings/Webinars"),
    ],
)
def test_scope_and_role_refusals_name_what_to_grant(code: int, message: str, wanted: str) -> None:
    assert classify(400, code, message, endpoint=UPDATE_MEETING).outcome is Outcome.PERMISSION
    fix = action_fix(
        code, message, actor="admin@example.com", target="meeting 1", endpoint=UPDATE_MEETING
    )
    assert fix is not None and wanted in fix


def test_other_errors_have_no_action_fix() -> None:
    assert action_fix(3001, "Webinar not found", actor="a", target="b") is None
    assert action_fix(None, "", actor="a", target="b") is None
