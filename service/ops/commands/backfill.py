"""`zoomhooks backfill` and `zoomhooks reconcile`: follow-ups for instances whose `*.ended`
never arrived (Zoom gave up after ~85 min of retries, or the service was down longer)."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from rich.progress import Progress

from service import boot
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
    counts = runtime.followups.counts()
    click.echo(
        "follow-ups now: "
        + ", ".join(f"{resource} {status} {n}" for (resource, status), n in sorted(counts.items()))
    )
    if later:
        click.echo(f"{later} must wait (Zoom not ready or rate limited); the sweeper retries them")


kind_argument = click.argument("kind", type=click.Choice(["webinar", "meeting"]))


@click.command()
@kind_argument
@click.argument("id_or_uuid")
@click.option(
    "--enqueue", is_flag=True, help="Hand the jobs to the workers instead of running them here."
)
def backfill(kind: str, id_or_uuid: str, enqueue: bool) -> None:
    """Fetch participants, Q&A, polls (and absentees) of a past instance, on demand.

    ID_OR_UUID: an instance UUID, or a meeting/webinar number for every past instance of it.
    For when Zoom gave up on a webhook, or the service was down longer than Zoom retries.
    """
    runtime = Runtime(boot.start())
    try:
        migrations.upgrade(runtime.engine)
        try:
            found = runtime.backfiller.instances(kind, id_or_uuid)
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
@click.option("--dry-run", is_flag=True, help="Print the gaps; change nothing.")
@click.option("--enqueue", is_flag=True, help="Hand the jobs to the workers instead.")
def reconcile(
    since: datetime,
    webinars: tuple[int, ...],
    meetings: tuple[int, ...],
    dry_run: bool,
    enqueue: bool,
) -> None:
    """Compare Zoom's past instances with what webhooks produced, and backfill the gaps.

    Checks every meeting and webinar number this database has seen, plus those given.
    """
    runtime = Runtime(boot.start())
    cutoff = since.replace(tzinfo=UTC) if since.tzinfo is None else since
    try:
        migrations.upgrade(runtime.engine)
        gaps = []
        for kind, extra in (("webinar", webinars), ("meeting", meetings)):
            for ident in sorted({*runtime.backfiller.known_ids(kind), *extra}):
                try:
                    found = runtime.backfiller.instances(kind, str(ident))
                except (LookupError, ZoomAPIError) as exc:
                    raise click.ClickException(f"{kind} {ident}: {exc}") from None
                gaps += runtime.backfiller.gaps(found, since=cutoff)
        for gap in gaps:
            click.echo(f"gap: {gap.kind} {gap.zoom_id} {gap.uuid} started {gap.start_time}")
        click.echo(f"{len(gaps)} instances since {cutoff:%Y-%m-%d %H:%M} have no follow-ups")
        if gaps and not dry_run:
            created = [job for gap in gaps for job in runtime.backfiller.create(gap)]
            _run_jobs(runtime, created, enqueue=enqueue)
    finally:
        runtime.close()
