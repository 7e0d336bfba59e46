"""`zoomhooks purge` (rows past their retention) and `zoomhooks erase` (one person's rows)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from service.ops import output, session
from service.ops.options import json_option
from service.storage import erasure, retention
from service.storage.types import utcnow

days = click.IntRange(min=1)


def _report(
    found: dict[str, int], *, dry_run: bool, as_json: bool, what: str, **extra: Any
) -> None:
    verb = "would delete" if dry_run else "deleted"
    if as_json:
        output.json_line({"dry_run": dry_run, "rows": found, **extra})
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
    help="Delete inbox events done or ignored, received more than this many days ago "
    "[default: ZOOMHOOKS_RETENTION_EVENTS_DAYS]. Unfinished ones are never deleted.",
)
@click.option(
    "--failed-days",
    type=days,
    help="Delete failed inbox events received more than this many days ago "
    "[default: ZOOMHOOKS_RETENTION_FAILED_DAYS, else --events-days].",
)
@click.option(
    "--timeline-days",
    type=days,
    help="Delete participant_events rows older than this many days "
    "[default: ZOOMHOOKS_RETENTION_TIMELINE_DAYS].",
)
@click.option(
    "--instances-days",
    type=days,
    help="Delete instances that ended more than this many days ago, with their follow-up jobs, "
    "fetched participants, absentees, Q&A, poll answers and timeline "
    "[default: ZOOMHOOKS_RETENTION_INSTANCES_DAYS]. One with a follow-up still to run stays.",
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
    events_days: int | None,
    failed_days: int | None,
    timeline_days: int | None,
    instances_days: int | None,
    dry_run: bool,
    batch: int,
    as_json: bool,
) -> None:
    """Delete rows past their retention, in short batches beside a running service."""
    loaded = session.settings()
    configured = retention.Ages.configured(loaded)
    wanted = retention.Ages(
        events=events_days or configured.events,
        failed=failed_days or configured.failed,
        timeline=timeline_days or configured.timeline,
        instances=instances_days or configured.instances,
    )
    if not wanted:
        raise click.UsageError(
            "nothing to purge: give --events-days, --failed-days, --timeline-days and/or "
            "--instances-days (or set ZOOMHOOKS_RETENTION_EVENTS_DAYS, …_FAILED_DAYS, "
            "…_TIMELINE_DAYS, …_INSTANCES_DAYS)"
        )
    with session.writer(loaded) as engine:
        found = retention.purge(engine, wanted.cutoffs(utcnow()), dry_run=dry_run, batch=batch)
    _report(found, dry_run=dry_run, as_json=as_json, what="purge")


@click.command()
@click.option(
    "--email", "emails", multiple=True, help="The person's e-mail address (case-insensitive)."
)
@click.option(
    "--user-id",
    "user_ids",
    multiple=True,
    help="The person's Zoom user id (participants.id, a webhook's participant_user_id; not "
    "the per-meeting user_id). Their rows' addresses are erased too.",
)
@click.option("--dry-run", is_flag=True, help="Count their rows per table; delete nothing.")
@json_option
def erase(emails: tuple[str, ...], user_ids: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Delete every row about one person (GDPR-style erasure): fetched participants,
    absentees, Q&A, poll answers, registrants, the live timeline, the actions that name them,
    and every inbox event that mentions them (the event goes whole)."""
    if not (emails or user_ids):
        raise click.UsageError("name the person: --email ADDRESS and/or --user-id ID")
    for email in emails:
        _checked(erasure.check_email, email, "--email")
    for user_id in user_ids:
        _checked(erasure.check_user_id, user_id, "--user-id")
    with session.writer() as engine:
        done = erasure.erase(engine, emails=emails, user_ids=user_ids, dry_run=dry_run)
    found_emails = sorted(done.person.emails - {e.strip().lower() for e in emails})
    if found_emails and not as_json:
        output.show(
            output.text(f"addresses of the user ids, erased too: {', '.join(found_emails)}")
        )
    _report(
        done.rows,
        dry_run=dry_run,
        as_json=as_json,
        what=f"erase {', '.join([*emails, *user_ids])}",
        emails=sorted(done.person.emails),
        user_ids=sorted(done.person.user_ids),
    )


def _checked(check: Callable[[str], None], value: str, hint: str) -> None:
    try:
        check(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None
