"""`zoomhooks purge` (rows past their retention) and `zoomhooks erase` (one person's rows)."""

from __future__ import annotations

from datetime import timedelta

import click

from service.ops import output, session
from service.ops.options import json_option
from service.storage import retention
from service.storage.types import utcnow

days = click.IntRange(min=1)


def _report(found: dict[str, int], *, dry_run: bool, as_json: bool, what: str) -> None:
    verb = "would delete" if dry_run else "deleted"
    if as_json:
        output.json_line({"dry_run": dry_run, "rows": found})
        return
    output.show(
        output.table(
            ["table", "rows"],
            [[name, str(count)] for name, count in found.items()],
            title=f"{what}: {verb} {sum(found.values())} rows",
        )
    )


@click.command()
@click.option(
    "--events-days",
    type=days,
    help="Delete finished inbox events (done, ignored, failed) received more than this many "
    "days ago [default: ZOOMHOOKS_RETENTION_EVENTS_DAYS]. Unfinished ones are never deleted.",
)
@click.option(
    "--timeline-days",
    type=days,
    help="Delete participant_events rows older than this many days "
    "[default: ZOOMHOOKS_RETENTION_TIMELINE_DAYS].",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option(
    "--batch",
    type=click.IntRange(1, 100_000),
    default=retention.DEFAULT_PURGE_BATCH,
    show_default=True,
    help="Rows per delete transaction (short ones keep ingest going meanwhile).",
)
@json_option
def purge(
    events_days: int | None, timeline_days: int | None, dry_run: bool, batch: int, as_json: bool
) -> None:
    """Delete rows past their retention, in short batches beside a running service."""
    loaded = session.settings()
    events_days = events_days or loaded.retention_events_days
    timeline_days = timeline_days or loaded.retention_timeline_days
    if not (events_days or timeline_days):
        raise click.UsageError(
            "nothing to purge: give --events-days and/or --timeline-days (or set "
            "ZOOMHOOKS_RETENTION_EVENTS_DAYS / ZOOMHOOKS_RETENTION_TIMELINE_DAYS)"
        )
    now = utcnow()
    cutoffs = retention.Cutoffs(
        events=now - timedelta(days=events_days) if events_days else None,
        timeline=now - timedelta(days=timeline_days) if timeline_days else None,
    )
    with session.writer(loaded) as engine:
        found = retention.purge(engine, cutoffs, dry_run=dry_run, batch=batch)
    _report(found, dry_run=dry_run, as_json=as_json, what="purge")


@click.command()
@click.option("--email", required=True, help="The person's e-mail address (case-insensitive).")
@click.option("--dry-run", is_flag=True, help="Count their rows per table; delete nothing.")
@json_option
def erase(email: str, dry_run: bool, as_json: bool) -> None:
    """Delete every row about one person (GDPR-style erasure): fetched participants,
    absentees, Q&A, poll answers, registrants, the live timeline, and every inbox event whose
    body mentions the address (the event goes whole)."""
    try:
        retention.check_email(email)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--email") from None
    with session.writer() as engine:
        found = retention.erase(engine, email, dry_run=dry_run)
    _report(found, dry_run=dry_run, as_json=as_json, what=f"erase {email}")
