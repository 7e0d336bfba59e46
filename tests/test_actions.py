"""Write-side actions: their config and the pure decision of what to do for an event."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from service import actions, apps
from service.actions import Actions, Kind, Otherwise, RegistrantRule
from service.apps import ConfigError, Limits

EVENTS = Path(actions.__file__).parent / "devtools" / "events"
REGISTRATION = json.loads((EVENTS / "webinar.registration_created.json").read_text())

BASE = """
[apps.marketing]
account_id = "acctA"
secret_tokens = ["s"]
client_id = "cid"
client_secret = "shh"
"""

GOOD = (
    BASE
    + """
[apps.marketing.actions]
dry_run = true

[apps.marketing.actions.registrants]
allow_domains = ["Example.com", "@partner.example"]
deny_domains = ["competitor.example"]
otherwise = "deny"

[apps.marketing.actions.meeting_host]
schedule_for = "events@example.com"
"""
)


def load(text: str) -> apps.Apps:
    return apps.load(text, environ={}, default_app=None, default_limits=Limits("pro", 0.5))


def test_actions_are_off_unless_declared() -> None:
    app = load(BASE).get("marketing")
    assert app is not None and app.actions is None


def test_a_full_actions_table_parses() -> None:
    app = load(GOOD).get("marketing")
    assert app is not None and app.actions is not None
    found = app.actions
    assert found.dry_run is True
    assert found.registrants == RegistrantRule(
        ("example.com", "partner.example"), ("competitor.example",), Otherwise.DENY
    )
    assert found.meeting_host is not None
    assert found.meeting_host.schedule_for == "events@example.com"
    assert found.triggers == {actions.REGISTRATION_CREATED, actions.MEETING_CREATED}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[apps.marketing.actions]\ndry_run = 1\n", "dry_run must be true or false"),
        ("[apps.marketing.actions]\nwhat = 1\n", "unknown keys ['what']"),
        ("[apps.marketing.actions]\n", "declare at least one action"),
        (
            "[apps.marketing.actions.registrants]\nallow_domains = ['a.example']\n"
            "deny_domains = ['A.example']\n",
            "['a.example'] are in both",
        ),
        (
            "[apps.marketing.actions.registrants]\nallow_domains = ['not a domain']\n",
            "allow_domains has 'not a domain', which is no domain name",
        ),
        (
            "[apps.marketing.actions.registrants]\nallow_domains = 'a.example'\n",
            "allow_domains must be a list",
        ),
        (
            "[apps.marketing.actions.registrants]\notherwise = 'maybe'\n",
            "otherwise must be approve, deny or leave, not 'maybe'",
        ),
        ("[apps.marketing.actions.registrants]\n", "nothing would be done"),
        ("[apps.marketing.actions.meeting_host]\n", "schedule_for must name the new host"),
        (
            "[apps.marketing.actions.meeting_host]\nschedule_for = 'x'\nhost = 'y'\n",
            "meeting_host: unknown keys ['host']",
        ),
        ("[apps.marketing]\nactions = 3\n", "actions must be a table"),
    ],
)
def test_a_bad_actions_table_is_refused_in_one_line_naming_file_and_section(
    extra: str, message: str
) -> None:
    text = BASE + extra
    if extra.startswith("[apps.marketing]\n"):
        text = BASE + extra.removeprefix("[apps.marketing]\n")
        tomllib.loads(text)
    with pytest.raises(ConfigError) as caught:
        load(text)
    text_of = str(caught.value)
    assert "\n" not in text_of
    assert message in text_of
    if "must be a table" not in message:
        assert text_of.startswith("ZOOMHOOKS_CONFIG [apps.marketing.actions]: ")


def test_actions_need_credentials_unless_dry_run() -> None:
    rule = "[apps.marketing.actions.meeting_host]\nschedule_for = 'x@example.com'\n"
    bare = "[apps.marketing]\naccount_id = 'a'\nsecret_tokens = ['s']\n"
    with pytest.raises(ConfigError, match="actions call Zoom, so the app needs account_id"):
        load(bare + rule)
    dry = bare + "[apps.marketing.actions]\ndry_run = true\n" + rule
    app = load(dry).get("marketing")
    assert app is not None and app.actions is not None and app.actions.dry_run


RULE = RegistrantRule(("example.com",), ("competitor.example",), Otherwise.LEAVE)


@pytest.mark.parametrize(
    ("email", "decision"),
    [
        ("jill@example.com", Otherwise.APPROVE),
        ("Jill@EXAMPLE.com", Otherwise.APPROVE),
        ("jill@eu.example.com", Otherwise.APPROVE),
        ("jill@badexample.com", Otherwise.LEAVE),  # a suffix is not a subdomain
        ("jill@competitor.example", Otherwise.DENY),
        ("jill@x.competitor.example", Otherwise.DENY),
        ("jill@elsewhere.example", Otherwise.LEAVE),
        ("no-at-sign", Otherwise.LEAVE),
    ],
)
def test_domain_rule(email: str, decision: Otherwise) -> None:
    assert actions.decide_registrant(RULE, email)[0] is decision


def test_deny_wins_over_allow_for_a_subdomain() -> None:
    rule = RegistrantRule(("example.com",), ("bad.example.com",))
    found, why = actions.decide_registrant(rule, "a@bad.example.com")
    assert found is Otherwise.DENY and "deny_domains" in why


def _registration(email: str, status: str = "pending") -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(json.dumps(REGISTRATION["payload"]))
    payload["object"]["registrant"].update(email=email, status=status)
    return payload


def test_a_registration_plans_the_spec_shaped_status_update() -> None:
    planned = actions.plan(
        Actions(registrants=RULE),
        actions.REGISTRATION_CREATED,
        _registration("a@competitor.example"),
    )
    assert len(planned) == 1
    step = planned[0]
    assert step.kind is Kind.REGISTRANT_DENY
    assert (step.method, step.path) == ("PUT", "/webinars/1234567890/registrants/status")
    assert step.body == {
        "action": "deny",
        "registrants": [{"email": "a@competitor.example", "id": "iFxeBPYun6SAiWUzBcEkX"}],
    }
    assert "competitor.example is in deny_domains" in step.reason


def test_a_registrant_already_in_the_decided_status_or_left_alone_plans_nothing() -> None:
    rules = Actions(registrants=RULE)
    assert (
        actions.plan(
            rules, actions.REGISTRATION_CREATED, _registration("a@example.com", "approved")
        )
        == []
    )
    assert (
        actions.plan(rules, actions.REGISTRATION_CREATED, _registration("a@elsewhere.example"))
        == []
    )
    approve = actions.plan(rules, actions.REGISTRATION_CREATED, _registration("a@example.com"))
    assert [p.kind for p in approve] == [Kind.REGISTRANT_APPROVE]


def test_a_new_meeting_plans_a_schedule_for_patch() -> None:
    rules = Actions(meeting_host=actions.MeetingHostRule("events@example.com"))
    payload = {"account_id": "a", "object": {"id": 85746065432, "host_id": "z8yCxjabcdEFGHfp8uQ"}}
    (step,) = actions.plan(rules, actions.MEETING_CREATED, payload)
    assert step.kind is Kind.MEETING_SCHEDULE_FOR
    assert (step.method, step.path) == ("PATCH", "/meetings/85746065432")
    assert step.body == {"schedule_for": "events@example.com"}
    assert "z8yCxjabcdEFGHfp8uQ" in step.target


@pytest.mark.parametrize(
    ("event", "obj"),
    [
        (actions.MEETING_CREATED, {"id": "../users/me"}),  # never a path other than the meeting's
        (actions.MEETING_CREATED, {"host_email": "events@example.com", "id": 1}),  # already theirs
        (actions.MEETING_CREATED, {}),
        ("meeting.started", {"id": 1}),
        (actions.REGISTRATION_CREATED, {"id": 1}),
    ],
)
def test_events_that_ask_for_nothing(event: str, obj: dict[str, Any]) -> None:
    rules = Actions(registrants=RULE, meeting_host=actions.MeetingHostRule("events@example.com"))
    assert actions.plan(rules, event, {"object": obj}) == []
