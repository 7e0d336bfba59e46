"""`zoomhooks backfill` and `zoomhooks reconcile`: follow-ups for instances whose `*.ended`
never arrived (Zoom gave up after ~85 min of retries, or the service was down longer), and
their cloud recordings, whose `recording.*` webhooks may be lost as well."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from rich.progress import Progress

from service.ops import session
from service.runtime import Runtime
from service.storage import migrate as migrations
from service.storage.types import utcnow
from service.zoom import ZoomAPIError


def _run_jobs(runtime: Runtime, job_ids: list[int], *, enqueue: bool) -> None:
    """Run follow-up jobs here and now, or hand them to the workers of a real broker."""
    if enqueue:
        if runtime.settings.embedded:
            raise click.ClickException(
                "--enqueue needs a real broker (BROKER_URL); without one the jobs run here"
            )
        for job_id in job_ids:
            runtime.schedule_followup(job_id, utcnow())
        click.echo(f"enqueued {len(job_ids)} follow-up jobs for the workers")
        return
    later = 0
    with Progress(transient=True) as progress:
        task = progress.add_task("follow-ups", total=len(job_ids))
        for job_id in job_ids:
            if runtime.runner.run(job_id) is not None:
                later += 1
            progress.advance(task)
    counts = runtime.followups.counts(job_ids)
    click.echo(
        "these follow-ups now: "
        + ", ".join(f"{resource} {status} {n}" for (resource, status), n in sorted(counts.items()))
    )
    if runtime.download_runner is not None:
        queued = runtime.downloads.unfinished_of(job_ids)
        if queued:
            # Embedded, this process's queue dies with it: `serve`'s sweeper takes them.
            click.echo(
                f"{queued} recording downloads queued for the workers"
                + (
                    f" (`serve` picks them up within {runtime.settings.sweep_after_seconds:g} s)"
                    if runtime.settings.embedded
                    else ""
                )
            )
    if later:
        click.echo(f"{later} must wait (Zoom not ready or rate limited); the sweeper retries them")
    failed = sum(n for (_, status), n in counts.items() if status == "failed")
    if failed:
        # A script or an operator must not take a failed backfill for a done one.
        click.echo(
            f"{failed} failed: see `zoomhooks followups list --status failed` for why", err=True
        )
        raise SystemExit(1)


kind_argument = click.argument("kind", type=click.Choice(["webinar", "meeting"]))
account_option = click.option(
    "--account",
    metavar="ACCOUNT_ID",
    help="The Zoom account to ask (default: the one webhooks recorded, else the only one).",
)


def _check_account(runtime: Runtime, account: str | None) -> None:
    known = runtime.backfiller.accounts
    if account is not None and account not in known:
        raise click.ClickException(
            f"no app here has Zoom API credentials for account {account}"
            + (f"; these do: {', '.join(known)}" if known else "")
        )


@click.command()
@kind_argument
@click.argument("id_or_uuid")
@account_option
@click.option(
    "--enqueue", is_flag=True, help="Hand the jobs to the workers instead of running them here."
)
def backfill(kind: str, id_or_uuid: str, account: str | None, enqueue: bool) -> None:
    """Fetch participants, Q&A, polls, absentees, registrants, reports and the cloud recording
    of a past instance, on demand (recording downloads are queued when storage is configured).

    ID_OR_UUID: an instance UUID, or a meeting/webinar number for every past instance of it.
    For when Zoom gave up on a webhook, or the service was down longer than Zoom retries.
    """
    runtime = session.opened_runtime()
    try:
        _check_account(runtime, account)
        migrations.upgrade(runtime.engine)
        try:
            found = runtime.backfiller.instances(kind, id_or_uuid, account)
        except (LookupError, ValueError, ZoomAPIError) as exc:
            raise click.ClickException(str(exc)) from None
        if not found:
            raise click.ClickException(f"Zoom lists no past instance of {kind} {id_or_uuid}")
        for instance in found:
            created = runtime.backfiller.create(instance)
            click.echo(f"{kind} {instance.uuid}: {len(created) or 'no'} new follow-up jobs")
        _run_jobs(runtime, runtime.backfiller.jobs_of([i.uuid for i in found]), enqueue=enqueue)
    finally:
        runtime.close()


@click.command()
@click.option("--since", required=True, type=click.DateTime(), help="UTC date or date-time.")
@click.option("--webinar", "webinars", multiple=True, type=int, help="Also check this webinar.")
@click.option("--meeting", "meetings", multiple=True, type=int, help="Also check this meeting.")
@click.option(
    "--account",
    metavar="ACCOUNT_ID",
    help="Check only this Zoom account's numbers (and ask it about --webinar/--meeting).",
)
@click.option("--dry-run", is_flag=True, help="Print the gaps; change nothing.")
@click.option("--enqueue", is_flag=True, help="Hand the jobs to the workers instead.")
def reconcile(
    since: datetime,
    webinars: tuple[int, ...],
    meetings: tuple[int, ...],
    account: str | None,
    dry_run: bool,
    enqueue: bool,
) -> None:
    """Compare Zoom's past instances with what webhooks produced, and backfill the gaps.

    Checks every meeting and webinar number this database has seen, each with the credentials
    of the account its events came from, plus those given. A number Zoom no longer has is
    skipped; any other failure is reported, the rest is still reconciled, and the exit
    status is 1.
    """
    runtime = session.opened_runtime()
    cutoff = since.replace(tzinfo=UTC) if since.tzinfo is None else since
    try:
        _check_account(runtime, account)
        migrations.upgrade(runtime.engine)
        backfiller = runtime.backfiller
        checks = backfiller.checks(account, {"webinar": webinars, "meeting": meetings})
        found = backfiller.reconcile(checks, since=cutoff)
        for check, reason in found.skipped:
            click.echo(f"skipped: {check.kind} {check.zoom_id}: {reason}")
        for check, reason in found.failed:
            click.echo(f"failed: {check.kind} {check.zoom_id}: {reason}", err=True)
        gaps = found.gaps
        failed = len(found.failed)
        for gap in gaps:
            click.echo(f"gap: {gap.kind} {gap.zoom_id} {gap.uuid} started {gap.start_time}")
        click.echo(f"{len(gaps)} instances since {cutoff:%Y-%m-%d %H:%M} have no follow-ups")
        if gaps and not dry_run:
            created = [job for gap in gaps for job in backfiller.create(gap)]
            _run_jobs(runtime, created, enqueue=enqueue)
        if failed:
            raise click.ClickException(f"{failed} of {len(checks)} numbers could not be checked")
    finally:
        runtime.close()
