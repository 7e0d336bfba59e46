"""`zoomhooks replay`: run inbox events again, one by id or every failed one in a range."""

from __future__ import annotations

from datetime import datetime

import click

from service.ops import session
from service.ops.formatting import describe_range
from service.ops.handback import Handback, hand_back_failed, report_one
from service.ops.options import check_one_or_failed, check_range, json_option, range_options
from service.ops.queries import events as queries
from service.ops.queries.reset import reset_events

#: Rows reset per transaction by `replay --failed`.
#: `failed` and `received` (a nudge) rows are replayed as asked; these need --force. A
#: finished row runs its handler again; a `processing` one is held by a worker (or orphaned,
#: which the sweeper sees to after the processing timeout).
FORCED = frozenset({"done", "ignored", "processing"})

SAFE = (
    "handlers are idempotent upserts, so running it again updates its rows in place and "
    "creates no duplicates"
)


@click.command()
@click.argument("inbox_id", metavar="[ID]", required=False, type=click.IntRange(min=1))
@click.option(
    "--failed",
    is_flag=True,
    help="Replay every failed event received in the range (--since/--until; all without).",
)
@range_options("failed events received")
@click.option(
    "--force",
    is_flag=True,
    help="Replay the event even if it is done, ignored or processing (its handler runs again).",
)
@click.option("--yes", "-y", is_flag=True, help="Replay --failed without asking first.")
@json_option
def replay(
    inbox_id: int | None,
    failed: bool,
    since: datetime | None,
    until: datetime | None,
    force: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Put inbox events back to `received` (attempts 0) so that a worker processes them again.

    With BROKER_URL set they are enqueued at once. Without it (the embedded default) they are
    marked stale, and the sweeper of the running `zoomhooks serve` takes them.
    """
    check_one_or_failed(
        inbox_id,
        failed=failed,
        force=force,
        filters={"--since": since, "--until": until},
        noun="an event",
        verb="replays",
    )
    check_range(since, until)
    if inbox_id is not None:
        _replay_one(inbox_id, force=force, as_json=as_json)
    else:
        _replay_failed(since, until, yes=yes, as_json=as_json)


def _replay_one(inbox_id: int, *, force: bool, as_json: bool) -> None:
    with session.runtime() as runtime:
        with runtime.engine.connect() as conn:
            row = queries.get_event(conn, inbox_id)
        if row is None:
            raise click.ClickException(f"no inbox event with id {inbox_id}")
        status = str(row["status"])
        if status in FORCED and not force:
            raise click.ClickException(
                f"inbox event {inbox_id} ({row['event']}) is {status}: pass --force to run its "
                f"handler again ({SAFE})"
            )
        with runtime.engine.begin() as conn:
            reset = reset_events(conn, [inbox_id], from_statuses={status})
        if not reset:
            raise click.ClickException(
                f"inbox event {inbox_id} changed while being replayed (no longer {status}); "
                f"look again with `zoomhooks events show {inbox_id}`"
            )
        handback = Handback(runtime.settings, runtime.enqueue, noun="inbox event")
        handback(reset)
    remark = f"it was {status}; {SAFE}" if status in FORCED else f"it was {status}"
    report_one(
        handback,
        f"Replaying inbox event {inbox_id} ({row['event']}): {remark}.",
        as_json=as_json,
        fields={"was": status, "event": row["event"]},
    )


def _replay_failed(
    since: datetime | None, until: datetime | None, *, yes: bool, as_json: bool
) -> None:
    span = describe_range(since, until, verb="received")
    with session.runtime() as runtime:
        with runtime.engine.connect() as conn:
            ids = queries.failed_ids(conn, since=since, until=until)
        hand_back_failed(
            runtime,
            ids,
            send=runtime.enqueue,
            reset=lambda conn, batch: reset_events(conn, batch, from_statuses={"failed"}),
            noun="inbox event",
            verb="Replay",
            scope=span,
            yes=yes,
            as_json=as_json,
        )
