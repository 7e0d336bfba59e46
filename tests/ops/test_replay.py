"""`zoomhooks replay`: one event or every failed one, embedded (the sweeper takes them) or
on a real broker (enqueued at once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.ops import replay
from service.ops.queries.reset import STALE
from service.processing.process import Result
from service.runtime import Runtime
from tests.conftest import MakeRuntime
from tests.ops.populate import (
    Cli,
    event_row,
    failed,
    forget_messages,
    ingest,
    next_message,
    processed,
    set_event,
    started,
    statuses,
)


def test_replay_of_one_failed_event_then_it_is_processed(cli: Cli, runtime: Runtime) -> None:
    inbox_id = failed(runtime, "meeting.started", started("A=="))
    assert event_row(runtime, inbox_id)["status"] == "failed"

    result = cli(replay, str(inbox_id))
    assert result.exit_code == 0, result.output
    assert f"Replaying inbox event {inbox_id} (meeting.started): it was failed." in result.stdout
    # Embedded: say that serve's sweeper, not this command, enqueues it.
    assert "BROKER_URL is not set" in result.stdout
    assert "serve's sweeper enqueues it" in result.stdout
    assert "ZOOMHOOKS_SWEEP_INTERVAL_SECONDS (60 s in this environment)" in result.stdout

    row = event_row(runtime, inbox_id)
    assert (row["status"], row["attempts"], row["processed_at"]) == ("received", 0, None)
    assert row["updated_at"] == STALE
    assert row["last_error"] == "RuntimeError: boom"  # kept until the next attempt

    # What serve does next: its sweeper (sweep_after 5 min) takes the stale row, a worker runs it.
    assert runtime.sweeper.sweep() == 1
    assert runtime.processor.process(inbox_id) is Result.DONE
    row = event_row(runtime, inbox_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("done", 1, None)

    other = failed(runtime, "meeting.started", started("B=="))
    out = cli.json(replay, str(other))
    assert out["reset"] == [other]
    assert out["mode"] == "embedded"
    assert out["enqueued"] == []
    assert out["was"] == "failed"
    assert "BROKER_URL is not set" in out["note"]


def test_replay_of_a_done_event_must_be_forced(cli: Cli, runtime: Runtime) -> None:
    inbox_id = processed(runtime, "meeting.started", started("A=="))
    refused = cli(replay, str(inbox_id))
    assert refused.exit_code == 1
    assert f"inbox event {inbox_id} (meeting.started) is done: pass --force" in refused.stderr
    assert "idempotent" in refused.stderr
    assert event_row(runtime, inbox_id)["status"] == "done"

    forced = cli(replay, str(inbox_id), "--force")
    assert forced.exit_code == 0, forced.output
    assert "it was done; handlers are idempotent upserts" in forced.stdout
    assert event_row(runtime, inbox_id)["status"] == "received"
    assert runtime.processor.process(inbox_id) is Result.DONE

    waiting = ingest(runtime, "meeting.started", started("B=="))  # a nudge needs no --force
    nudged = cli(replay, str(waiting))
    assert nudged.exit_code == 0
    assert "it was received." in nudged.stdout


def test_replay_usage_and_missing_rows(cli: Cli, runtime: Runtime) -> None:
    assert cli(replay).exit_code == 2
    assert cli(replay, "1", "--failed").exit_code == 2
    assert cli(replay, "1", "--since", "1h").exit_code == 2
    assert cli(replay, "--failed", "--force").exit_code == 2
    missing = cli(replay, "999")
    assert missing.exit_code == 1
    assert "no inbox event with id 999" in missing.stderr
    none = cli(replay, "--failed", "--yes")
    assert none.exit_code == 1
    assert "no failed inbox events" in none.stderr


def test_replay_failed_over_a_range(cli: Cli, runtime: Runtime) -> None:
    old = failed(runtime, "meeting.started", started("OLD=="))
    set_event(runtime, old, received_at=datetime.now(UTC) - timedelta(days=3))
    recent = [failed(runtime, "meeting.started", started(f"R{i}==")) for i in range(3)]
    done = processed(runtime, "meeting.started", started("D=="))

    declined = cli(replay, "--failed", "--since", "1d", input="n\n")
    assert declined.exit_code == 1
    assert "Replay 3 failed inbox events received since" in declined.output
    assert set(statuses(runtime).values()) == {"failed", "done"}

    accepted = cli(replay, "--failed", "--since", "1d", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Replaying 3 failed inbox events received since" in accepted.stdout
    assert "BROKER_URL is not set" in accepted.stdout
    now = statuses(runtime)
    assert [now[i] for i in recent] == ["received"] * 3
    assert (now[old], now[done]) == ("failed", "done")

    out = cli.json(replay, "--failed", "--until", "1d", "--yes")
    assert out["reset"] == [old]
    assert out["matched"] == 1
    for inbox_id in [old, *recent]:
        assert runtime.processor.process(inbox_id) is Result.DONE


def test_replay_many_failed_events_with_a_progress_bar(cli: Cli, runtime: Runtime) -> None:
    made = [ingest(runtime, "meeting.started", started(f"M{i}==")) for i in range(45)]
    for inbox_id in made:
        set_event(runtime, inbox_id, status="failed", attempts=10, last_error="x")
    result = cli(replay, "--failed", "--yes")
    assert result.exit_code == 0, result.output
    assert "Replaying 45 failed inbox events." in result.stdout
    assert set(statuses(runtime).values()) == {"received"}


@pytest.mark.redis
def test_replay_on_a_real_broker_enqueues_for_the_workers(
    cli: Cli, make_runtime: MakeRuntime, database_url: str, redis_url: str
) -> None:
    worker = make_runtime(database_url=database_url, broker_url=redis_url, max_attempts=1)
    inbox_id = failed(worker, "meeting.started", started("A=="))
    forget_messages(worker)  # only the command's message can process the row
    result = cli(replay, str(inbox_id), BROKER_URL=redis_url)
    assert result.exit_code == 0, result.output
    assert "Enqueued 1 inbox event on the broker." in result.stdout
    assert "BROKER_URL is not set" not in result.stdout
    message = next_message(worker, worker.actors.process_webhook.queue_name)
    assert (message.actor_name, message.args) == ("process_webhook", (inbox_id,))
    worker.actors.process_webhook(*message.args)  # what a worker does with it
    assert event_row(worker, inbox_id)["status"] == "done"


@pytest.mark.redis
def test_a_broker_that_fails_leaves_the_rows_to_the_sweeper(
    cli: Cli, runtime: Runtime, redis_url: str
) -> None:
    inbox_id = failed(runtime, "meeting.started", started("A=="))
    unreachable = "redis://user:hunter2@127.0.0.1:1/0"
    result = cli(replay, str(inbox_id), BROKER_URL=unreachable)
    assert result.exit_code == 1
    assert "Enqueued only 0 of 1 inbox event" in result.stdout
    assert "hunter2" not in result.output
    row = event_row(runtime, inbox_id)
    assert (row["status"], row["updated_at"]) == ("received", STALE)
