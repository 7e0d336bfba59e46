"""`zoomhooks actions list` and `actions run`, with the action sent to the fake Zoom API."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from service import actions as rules
from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    RunningFake,
)
from service.ops import actions
from service.storage import migrate
from service.storage.actions import ActionJobs, NewAction
from tests.ops.populate import Cli

MEETING_ID = 86431910364
CONFIG = f"""
[apps.marketing]
account_id = "{DEFAULT_ACCOUNT_ID}"
secret_tokens = ["s"]
client_id = "{DEFAULT_CLIENT_ID}"
client_secret = "{DEFAULT_CLIENT_SECRET}"

[apps.marketing.actions]
dry_run = true

[apps.marketing.actions.meeting_host]
schedule_for = "events@example.com"
"""


@pytest.fixture
def env(cli: Cli, fake_zoom: RunningFake, tmp_path: Path, database_url: str) -> Cli:
    config = tmp_path / "zoomhooks.toml"
    config.write_text(CONFIG)
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    rule = rules.Actions(meeting_host=rules.MeetingHostRule("events@example.com"))
    payload = {"object": {"id": MEETING_ID, "host_email": "host@example.com"}}
    planned = [
        NewAction(p.kind, p.target, p.method, p.path, p.body, p.reason)
        for p in rules.plan(rule, rules.MEETING_CREATED, payload)
    ]
    with engine.begin() as conn:
        ActionJobs(engine).create(
            conn,
            planned,
            app="marketing",
            account_id=DEFAULT_ACCOUNT_ID,
            inbox_id=7,
            dry_run=True,
            requested_by="rule:marketing",
        )
    engine.dispose()
    return Cli(
        {
            **cli.env,
            "ZOOMHOOKS_CONFIG": str(config),
            "ZOOM_API_BASE_URL": fake_zoom.api_url,
            "ZOOM_OAUTH_URL": fake_zoom.oauth_url,
        }
    )


def test_list_shows_the_audit_row(env: Cli) -> None:
    result = env(actions, "list")
    assert result.exit_code == 0, result.output
    assert "meeting.schedule_for" in result.stdout and "rule:marketing" in result.stdout
    (row,) = env.json_lines(actions, "list")
    assert (row["id"], row["status"], row["dry_run"]) == (1, "pending", True)
    assert row["request"] == {"schedule_for": "events@example.com"}
    assert env(actions, "list", "--status", "failed").exit_code == 1


def test_run_dry_then_for_real(env: Cli, fake_zoom: RunningFake) -> None:
    dry = env.json(actions, "run", "1", "--dry-run")
    assert (dry["status"], dry["dry_run"]) == ("dry_run", True)
    assert fake_zoom.fake.calls("meetingUpdate") == 0
    real = env.json(actions, "run", "1")
    assert (real["status"], real["zoom_status"], real["dry_run"]) == ("done", 204, False)
    assert real["requested_by"] == f"ops:{getpass.getuser()}"
    assert fake_zoom.fake.writes.meeting_host[MEETING_ID] == "events@example.com"
    again = env(actions, "run", "1")
    assert again.exit_code == 1 and "pass --force" in again.output
    assert fake_zoom.fake.calls("meetingUpdate") == 1


def test_run_shows_the_fix_and_fails(env: Cli, fake_zoom: RunningFake) -> None:
    fake_zoom.fake.faults.schedule_for_refused("events@example.com")
    result = env(actions, "run", "1")
    assert result.exit_code == 1
    assert "400 code 3000" in result.stdout
    assert "Schedule Privilege" in result.stdout
    assert env(actions, "run", "99").exit_code == 1
