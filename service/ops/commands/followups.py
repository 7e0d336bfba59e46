"""`zoomhooks followups list` and `zoomhooks followups retry`: the follow-up jobs."""

from __future__ import annotations

from datetime import datetime

import click
from rich.text import Text

from service.ops import output, session
from service.ops.formatting import cell, describe_range, one_line, plural, relative
from service.ops.handback import Handback, hand_back_failed, report_one, send_now
from service.ops.options import (
    check_one_or_failed,
    check_range,
    json_option,
    limit_option,
    range_options,
)
from service.ops.queries import followups as queries
from service.ops.queries.followups import FollowupFilter
from service.ops.queries.reset import reset_followups
from service.storage.models import FOLLOWUP_STATUSES, RESOURCES
from service.storage.types import utcnow

#: Jobs reset per transaction by `retry --failed`.
#: `failed` and `pending` (made due now) jobs are retried as asked; these need --force. A
#: finished job is fetched again; a `running` one is held by a worker.
FORCED = frozenset({"done", "not_applicable", "running"})

SAFE = "fetched rows are upserted, so fetching again updates them in place, with no duplicates"

resource_option = click.option(
    "--resource", type=click.Choice(RESOURCES), help="Only this resource."
)
instance_option = click.option(
    "--instance", metavar="UUID", help="Only jobs of this meeting or webinar instance."
)


@click.group()
def followups() -> None:
    """Follow-up jobs (participants, absentees, Q&A, polls): list them, retry them."""


@followups.command("list")
@click.option("--status", type=click.Choice(FOLLOWUP_STATUSES), help="Only jobs in this status.")
@resource_option
@instance_option
@limit_option
@json_option
def list_followups(
    status: str | None, resource: str | None, instance: str | None, limit: int, as_json: bool
) -> None:
    """List follow-up jobs, newest first."""
    wanted = FollowupFilter(status=status, resource=resource, instance=instance)
    with session.reader() as engine, engine.connect() as conn:
        rows = queries.list_followups(conn, wanted, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    if not rows:
        output.nothing("no follow-up jobs match")
    if as_json:
        output.json_lines(dict(row) for row in rows)
        return
    now = utcnow()
    table = output.table(
        (
            "id",
            "instance_uuid",
            "kind",
            "resource",
            "status",
            "attempts",
            "next_attempt_at",
            "rows_stored",
            "fetched_at (UTC)",
            "inbox_id",
            "last_error",
        ),
        (
            (
                str(r["id"]),
                r["instance_uuid"],
                r["kind"],
                r["resource"],
                Text(r["status"], style=output.status_style(r["status"])),
                str(r["attempts"]),
                relative(r["next_attempt_at"], now=now),
                cell(r["rows_stored"]),
                cell(r["fetched_at"]),
                cell(r["inbox_id"]),
                one_line(r["last_error"]),
            )
            for r in rows
        ),
        title=f"{plural(len(rows), 'follow-up job')}, newest first",
    )
    output.show(table)
    if more:
        output.note(f"more jobs match: raise --limit (now {limit}) or narrow the filters")


@followups.command("retry")
@click.argument("followup_id", metavar="[ID]", required=False, type=click.IntRange(min=1))
@click.option(
    "--failed",
    is_flag=True,
    help="Retry every failed job (narrowed by --resource, --instance, --since, --until).",
)
@resource_option
@instance_option
@range_options("failed jobs created")
@click.option(
    "--force",
    is_flag=True,
    help="Retry the job even if it is done, not_applicable or running (it is fetched again).",
)
@click.option("--yes", "-y", is_flag=True, help="Retry --failed without asking first.")
@json_option
def retry(
    followup_id: int | None,
    failed: bool,
    resource: str | None,
    instance: str | None,
    since: datetime | None,
    until: datetime | None,
    force: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Put follow-up jobs back to `pending`, due now, attempts 0, so a worker runs them again.

    With BROKER_URL set they are enqueued at once. Without it (the embedded default) they are
    marked stale, and the sweeper of the running `zoomhooks serve` takes them.
    """
    check_one_or_failed(
        followup_id,
        failed=failed,
        force=force,
        filters={
            "--resource": resource,
            "--instance": instance,
            "--since": since,
            "--until": until,
        },
        noun="a follow-up",
        verb="retries",
    )
    check_range(since, until)
    if followup_id is not None:
        _retry_one(followup_id, force=force, as_json=as_json)
    else:
        wanted = FollowupFilter(resource=resource, instance=instance, since=since, until=until)
        _retry_failed(wanted, yes=yes, as_json=as_json)


def _retry_one(followup_id: int, *, force: bool, as_json: bool) -> None:
    with session.runtime() as runtime:
        with runtime.engine.connect() as conn:
            row = queries.get_followup(conn, followup_id)
        if row is None:
            raise click.ClickException(f"no follow-up job with id {followup_id}")
        status = str(row["status"])
        what = f"follow-up {followup_id} ({row['resource']} of {row['instance_uuid']})"
        if status in FORCED and not force:
            raise click.ClickException(
                f"{what} is {status}: pass --force to fetch it again ({SAFE})"
            )
        with runtime.engine.begin() as conn:
            reset = reset_followups(conn, [followup_id], from_statuses={status})
        if not reset:
            raise click.ClickException(
                f"{what} changed while being retried (no longer {status}); look again with "
                f"`zoomhooks followups list --instance {row['instance_uuid']}`"
            )
        handback = Handback(
            runtime.settings, send_now(runtime.schedule_followup), noun="follow-up job"
        )
        handback(reset)
    remark = f"it was {status}; {SAFE}" if status in FORCED else f"it was {status}"
    report_one(handback, f"Retrying {what}: {remark}.", as_json=as_json, fields={"was": status})


def _retry_failed(wanted: FollowupFilter, *, yes: bool, as_json: bool) -> None:
    scope = "".join(
        (
            f" of resource {wanted.resource}" if wanted.resource else "",
            f" of instance {wanted.instance}" if wanted.instance else "",
            describe_range(wanted.since, wanted.until, verb="created"),
        )
    )
    with session.runtime() as runtime:
        with runtime.engine.connect() as conn:
            ids = queries.failed_ids(conn, wanted)
        hand_back_failed(
            runtime,
            ids,
            send=send_now(runtime.schedule_followup),
            reset=lambda conn, batch: reset_followups(conn, batch, from_statuses={"failed"}),
            noun="follow-up job",
            verb="Retry",
            scope=scope,
            yes=yes,
            as_json=as_json,
        )
