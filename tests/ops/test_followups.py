"""`zoomhooks followups list` and `followups retry`, with the job run again against the fake
Zoom API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from service.devtools.fakezoom import RunningFake
from service.ops import followups
from service.ops.queries.reset import STALE
from service.processing.live import FOLLOWUP_RESOURCES
from service.runtime import Runtime
from service.storage.models import followups as table
from tests.conftest import MakeRuntime
from tests.ops.populate import (
    Cli,
    ended,
    followup_row,
    forget_messages,
    ids,
    job_ids,
    next_message,
    processed,
    set_followup,
)

WEBINAR_ID = 81234567890


def failed_participants_job(runtime: Runtime, fake_zoom: RunningFake) -> int:
    """A webinar's participants job that failed on a permission error (once)."""
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=5, seed=1)
    fake_zoom.fake.faults.permission("/v2/past_webinars/*/participants", count=1)
    processed(runtime, "webinar.ended", ended(inst.uuid, WEBINAR_ID))
    job = job_ids(runtime)["participants"]
    assert runtime.runner.run(job) is None
    assert followup_row(runtime, job)["status"] == "failed"
    return job


@pytest.fixture
def zoom_runtime(
    make_runtime: MakeRuntime, database_url: str, zoom_settings: dict[str, Any]
) -> Runtime:
    return make_runtime(database_url=database_url, **zoom_settings)


def test_retry_then_the_job_runs_to_done(
    cli: Cli, zoom_runtime: Runtime, fake_zoom: RunningFake
) -> None:
    job = failed_participants_job(zoom_runtime, fake_zoom)
    listed = cli.json_lines(followups, "list", "--status", "failed")
    assert ids(listed) == [job]
    assert "4711" in listed[0]["last_error"] or "scope" in listed[0]["last_error"].lower()

    result = cli(followups, "retry", str(job))
    assert result.exit_code == 0, result.output
    assert f"Retrying follow-up {job} (participants of" in result.stdout
    assert "it was failed." in result.stdout
    assert "BROKER_URL is not set" in result.stdout
    row = followup_row(zoom_runtime, job)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("pending", 0, None)
    assert row["updated_at"] == STALE

    assert zoom_runtime.runner.run(job) is None
    row = followup_row(zoom_runtime, job)
    assert (row["status"], row["rows_stored"], row["last_error"]) == ("done", 5, None)


def test_serves_sweeper_takes_a_retried_job(
    cli: Cli, zoom_runtime: Runtime, fake_zoom: RunningFake
) -> None:
    job = failed_participants_job(zoom_runtime, fake_zoom)
    forget_messages(zoom_runtime)
    assert cli(followups, "retry", str(job)).exit_code == 0
    # As serve's sweeper does at its next round (sweep_after 5 min): only the retried job is
    # stale; the other jobs were just created.
    assert zoom_runtime.sweeper.sweep() == 1
    message = next_message(zoom_runtime, zoom_runtime.actors.run_followup.queue_name)
    assert message.args == (job,)
    zoom_runtime.actors.run_followup(*message.args)
    assert followup_row(zoom_runtime, job)["status"] == "done"


def test_retry_of_a_done_job_must_be_forced(cli: Cli, runtime: Runtime) -> None:
    processed(runtime, "webinar.ended", ended("W=="))
    job = job_ids(runtime)["qa"]
    set_followup(runtime, job, status="done", rows_stored=3)
    refused = cli(followups, "retry", str(job))
    assert refused.exit_code == 1
    assert "is done: pass --force" in refused.stderr
    forced = cli.json(followups, "retry", str(job), "--force")
    assert (forced["reset"], forced["was"]) == ([job], "done")
    assert followup_row(runtime, job)["status"] == "pending"


def test_retry_failed_by_resource_and_range(cli: Cli, runtime: Runtime) -> None:
    processed(runtime, "webinar.ended", ended("W1=="))
    processed(runtime, "webinar.ended", ended("W2==", 81234567891))
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(table.c.id, table.c.instance_uuid, table.c.resource)).all()
    jobs = {(r.instance_uuid, r.resource): r.id for r in rows}
    for (_uuid, resource), job in jobs.items():
        if resource in ("qa", "polls"):
            set_followup(runtime, job, status="failed", attempts=10, last_error=f"{resource} x")
    old = jobs[("W2==", "qa")]
    set_followup(runtime, old, created_at=datetime.now(UTC) - timedelta(days=2))

    out = cli.json(followups, "retry", "--failed", "--resource", "qa", "--since", "1d", "--yes")
    assert out["reset"] == [jobs[("W1==", "qa")]]
    assert out["mode"] == "embedded"
    assert followup_row(runtime, old)["status"] == "failed"

    out = cli.json(followups, "retry", "--failed", "--instance", "W2==", "--yes")
    assert out["reset"] == sorted([old, jobs[("W2==", "polls")]])

    declined = cli(followups, "retry", "--failed", input="n\n")
    assert declined.exit_code == 1
    assert "Retry 1 failed follow-up job?" in declined.output
    accepted = cli(followups, "retry", "--failed", input="y\n")
    assert accepted.exit_code == 0
    assert "Retrying 1 failed follow-up job." in accepted.stdout
    assert "BROKER_URL is not set" in accepted.stdout
    assert cli(followups, "retry", "--failed", "--yes").exit_code == 1  # none left


def test_list_filters_and_usage(cli: Cli, runtime: Runtime) -> None:
    processed(runtime, "webinar.ended", ended("W1=="))
    processed(runtime, "meeting.ended", {**ended("M1=="), "id": "86431910364"})
    rich = cli(followups, "list")
    assert rich.exit_code == 0
    total = len(FOLLOWUP_RESOURCES["webinar"]) + len(FOLLOWUP_RESOURCES["meeting"])
    assert f"{total} follow-up jobs, newest first" in rich.stdout
    assert "absentees" in rich.stdout and "M1==" in rich.stdout

    listed = cli.json_lines(followups, "list", "--instance", "M1==")
    assert len(listed) == len(FOLLOWUP_RESOURCES["meeting"])
    absentees = cli.json_lines(followups, "list", "--resource", "absentees")
    assert [r["instance_uuid"] for r in absentees] == ["W1=="]
    assert len(cli.json_lines(followups, "list", "--status", "pending", "--limit", "2")) == 2
    none = cli(followups, "list", "--status", "running")
    assert none.exit_code == 1
    assert "no follow-up jobs match" in none.stderr

    assert cli(followups, "retry").exit_code == 2
    assert cli(followups, "retry", "1", "--resource", "qa").exit_code == 2
    assert cli(followups, "list", "--resource", "attendees").exit_code == 2
    missing = cli(followups, "retry", "999")
    assert missing.exit_code == 1
    assert "no follow-up job with id 999" in missing.stderr


@pytest.mark.redis
def test_retry_on_a_real_broker_schedules_the_job(
    cli: Cli,
    make_runtime: MakeRuntime,
    database_url: str,
    redis_url: str,
    zoom_settings: dict[str, Any],
    fake_zoom: RunningFake,
) -> None:
    worker = make_runtime(database_url=database_url, broker_url=redis_url, **zoom_settings)
    job = failed_participants_job(worker, fake_zoom)
    forget_messages(worker)  # only the command's message can run the job
    result = cli(followups, "retry", str(job), BROKER_URL=redis_url)
    assert result.exit_code == 0, result.output
    assert "Enqueued 1 follow-up job on the broker." in result.stdout
    message = next_message(worker, worker.actors.run_followup.queue_name)
    assert (message.actor_name, message.args) == ("run_followup", (job,))
    worker.actors.run_followup(*message.args)  # what a worker does with it
    assert followup_row(worker, job)["status"] == "done"
