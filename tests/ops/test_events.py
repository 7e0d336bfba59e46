"""`zoomhooks events list` and `events show` on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from service.ops import events, stats
from service.processing.live import FOLLOWUP_RESOURCES
from service.runtime import Runtime
from service.storage.models import webhook_events
from tests.conftest import MakeRuntime
from tests.ops.populate import (
    Cli,
    ended,
    failed,
    ids,
    ingest,
    processed,
    set_event,
    started,
)

LONG_AGO = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass
class Inbox:
    done_a: int
    done_b: int
    failed_c: int
    waiting_d: int
    ignored: int
    old: int


@pytest.fixture
def inbox(runtime: Runtime) -> Inbox:
    made = Inbox(
        done_a=processed(runtime, "meeting.started", started("A==")),
        done_b=processed(runtime, "meeting.started", started("B==")),
        failed_c=failed(runtime, "meeting.started", started("C/+=="), message="boom [x]"),
        waiting_d=ingest(runtime, "webinar.started", started("D==")),
        ignored=processed(runtime, "account.updated", {"uuid": "A=="}),
        old=processed(runtime, "meeting.ended", ended("E==")),
    )
    set_event(runtime, made.old, received_at=LONG_AGO)
    return made


def test_list_shows_every_event_newest_first(cli: Cli, inbox: Inbox) -> None:
    result = cli(events, "list")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "6 inbox events, newest first" in out
    for word in (
        "meeting.started",
        "webinar.started",
        "account.updated",
        "failed",
        "ignored",
    ):
        assert word in out
    assert "RuntimeError: boom [x]" in out  # data is never taken for rich markup
    assert "C/+==" in out  # the instance, read from the body
    assert "2024-01-02 03:04:05" in out

    rows = cli.json_lines(events, "list")
    assert [r["id"] for r in rows] == sorted(ids(rows), reverse=True)
    by_id = {r["id"]: r for r in rows}
    assert by_id[inbox.failed_c]["status"] == "failed"
    assert by_id[inbox.failed_c]["last_error"] == "RuntimeError: boom [x]"
    assert by_id[inbox.failed_c]["instance_uuid"] == "C/+=="
    assert by_id[inbox.old]["received_at"] == "2024-01-02T03:04:05+00:00"
    assert by_id[inbox.waiting_d]["status"] == "received"


def test_list_filters(cli: Cli, inbox: Inbox) -> None:
    def listed(*args: str) -> list[int]:
        return ids(cli.json_lines(events, "list", *args))

    assert listed("--status", "failed") == [inbox.failed_c]
    assert listed("--status", "received") == [inbox.waiting_d]
    assert listed("--event", "meeting.started") == [inbox.done_a, inbox.done_b, inbox.failed_c]
    assert listed("--event", "meeting.*") == [
        inbox.done_a,
        inbox.done_b,
        inbox.failed_c,
        inbox.old,
    ]
    assert listed("--event", "meeting_started") == []  # `_` is not a wildcard
    assert listed("--instance", "C/+==") == [inbox.failed_c]
    assert listed("--instance", "A==") == [inbox.done_a, inbox.ignored]
    assert inbox.old not in listed("--since", "1d")
    assert listed("--until", "1d") == [inbox.old]
    assert listed("--since", "2024-01-02T03:04:05", "--until", "2024-01-02T03:04:06") == [inbox.old]
    assert listed("--since", "2024-01-02T04:04:05+01:00", "--until", "2024-01-03") == [inbox.old]
    assert listed("--status", "done", "--event", "meeting.started", "--instance", "B==") == [
        inbox.done_b
    ]

    limited = cli(events, "list", "--limit", "2")
    assert limited.exit_code == 0
    assert "2 inbox events" in limited.stdout
    assert "more events match: raise --limit" in limited.stdout
    assert listed("--limit", "2") == [inbox.ignored, inbox.old]

    nothing = cli(events, "list", "--status", "processing")
    assert nothing.exit_code == 1
    assert "no inbox events match" in nothing.stderr
    nothing_json = cli(events, "list", "--status", "processing", "--json")
    assert nothing_json.exit_code == 1
    assert nothing_json.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "is not a time"),
        (["--since", "1h", "--until", "2h"], "must be earlier than --until"),
        (["--status", "nope"], "'nope' is not one of"),
        (["--limit", "0"], "--limit"),
    ],
)
def test_list_rejects_bad_input_as_usage(bare_cli: Cli, args: list[str], message: str) -> None:
    result = bare_cli(events, "list", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_show_prints_columns_body_and_what_it_produced(cli: Cli, runtime: Runtime) -> None:
    inbox_id = processed(runtime, "webinar.ended", ended("W1=="))
    result = cli(events, "show", str(inbox_id))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"inbox event {inbox_id}" in out
    for column in ("dedupe_key", "deliveries", "zm_trackingid", "processed_at", "updated_at"):
        assert column in out
    assert '"topic": "Tøpic"' in out  # the body, pretty-printed
    assert f"follow-ups it created ({len(FOLLOWUP_RESOURCES['webinar'])})" in out
    for resource in FOLLOWUP_RESOURCES["webinar"]:
        assert resource in out

    shown = cli.json(events, "show", str(inbox_id))
    assert shown["event"]["id"] == inbox_id
    assert shown["event"]["status"] == "done"
    assert shown["event"]["body"]["payload"]["object"]["uuid"] == "W1=="
    assert shown["produced"]["instances"] == 1
    assert shown["produced"]["participant_events"] == 0
    assert sorted(j["resource"] for j in shown["followups"]) == sorted(
        FOLLOWUP_RESOURCES["webinar"]
    )
    assert {j["status"] for j in shown["followups"]} == {"pending"}

    joined = processed(
        runtime,
        "webinar.participant_joined",
        {
            "id": "81234567890",
            "uuid": "W1==",
            "participant": {"user_id": "u1", "join_time": "2024-03-01T14:01:00Z"},
        },
    )
    other = cli.json(events, "show", str(joined))
    assert other["produced"]["participant_events"] == 1
    assert other["produced"]["instances"] == 1  # the participant event updated it last
    assert other["followups"] == []
    assert cli.json(events, "show", str(inbox_id))["produced"]["instances"] == 0
    assert "follow-ups it created: none" in cli(events, "show", str(joined)).stdout


def test_show_of_a_missing_id_exits_1_with_a_clear_message(cli: Cli, runtime: Runtime) -> None:
    result = cli(events, "show", "999")
    assert result.exit_code == 1
    assert "no inbox event with id 999" in result.stderr
    assert cli(events, "show", "abc").exit_code == 2


def test_a_database_without_the_schema_names_the_fix(bare_cli: Cli) -> None:
    result = bare_cli(events, "list")
    assert result.exit_code == 1
    assert "run `zoomhooks migrate` first" in result.stderr


def test_a_database_password_is_never_printed(bare_cli: Cli) -> None:
    url = "postgresql://zh:s3cr3t-pw@127.0.0.1:1/zoomhooks"
    result = bare_cli(events, "list", DATABASE_URL=url)
    assert result.exit_code == 1
    assert "s3cr3t-pw" not in result.output
    assert "zh:***@127.0.0.1:1/zoomhooks" in result.stderr


def test_relative_times_are_relative_to_now(cli: Cli, runtime: Runtime) -> None:
    recent = processed(runtime, "meeting.started", started("R=="))
    set_event(runtime, recent, received_at=datetime.now(UTC) - timedelta(minutes=20))
    assert ids(cli.json_lines(events, "list", "--since", "30m")) == [recent]
    assert ids(cli.json_lines(events, "list", "--since", "10m")) == []


def test_reads_do_not_wait_for_the_services_writer_on_sqlite(
    make_runtime: MakeRuntime, sqlite_url: str, queue_prefix: str
) -> None:
    service = make_runtime(database_url=sqlite_url)
    inbox_id = processed(service, "meeting.started", started("A=="))
    cli = Cli({"DATABASE_URL": sqlite_url, "ZOOMHOOKS_QUEUE_PREFIX": queue_prefix})
    # serve holds SQLite's write lock (BEGIN IMMEDIATE) while it commits a webhook.
    with service.engine.begin() as conn:
        conn.execute(update(webhook_events).values(deliveries=2))
        started_at = time.monotonic()
        for command in (["list"], ["show", str(inbox_id)]):
            result = cli(events, *command)
            assert result.exit_code == 0, result.output
        assert cli(stats).exit_code == 0
        assert time.monotonic() - started_at < 5  # busy_timeout is 10 s
