"""`zoomhooks recordings list` and `zoomhooks recordings retry`: the recording downloads."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

from service.ops import output, session
from service.ops.formatting import cell, one_line, plural
from service.ops.handback import Handback, hand_back_failed, report_one, send_now
from service.ops.options import json_option, limit_option
from service.ops.queries.reset import reset_downloads
from service.runtime import Runtime
from service.storage.downloads import DOWNLOAD_STATUSES, DownloadJobs

COLUMNS = (
    "file_id",
    "status",
    "attempts",
    "bytes",
    "of",
    "auth",
    "host",
    "topic",
    "updated_at (UTC)",
    "storage_key / last error",
)


@click.group()
def recordings() -> None:
    """Recording file downloads (ZOOMHOOKS_RECORDINGS_STORAGE): list them, retry them."""


@recordings.command("list")
@click.option("--status", type=click.Choice(DOWNLOAD_STATUSES), help="Only downloads in it.")
@limit_option
@json_option
def list_downloads(status: str | None, limit: int, as_json: bool) -> None:
    """List download jobs, newest first, with progress and the last error."""
    with session.reader() as engine:
        rows = DownloadJobs(engine).recent(status=status, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    if not rows:
        output.nothing("no recording downloads match")
    if as_json:
        output.json_lines(_jsonable(row) for row in rows)
        return
    table = output.table(
        COLUMNS,
        (
            (
                r["file_id"],
                Text(r["status"], style=output.status_style(r["status"])),
                str(r["attempts"]),
                str(r["bytes_stored"]),
                "-" if r["expected_size"] is None else str(r["expected_size"]),
                r["auth"] or "-",
                r["host_email"] or "-",
                one_line(r["topic"] or ""),
                cell(r["updated_at"]),
                one_line(r["last_error"] if r["status"] != "done" else r["storage_key"]),
            )
            for r in rows
        ),
        title=f"{plural(len(rows), 'recording download')}, newest first",
    )
    output.show(table)
    if more:
        output.note(f"more downloads match: raise --limit (now {limit}) or pass --status")


@recordings.command("retry")
@click.argument("file_id", metavar="FILE_ID", required=False)
@click.option("--failed", is_flag=True, help="Retry every failed download.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def retry(file_id: str | None, failed: bool, yes: bool, as_json: bool) -> None:
    """Put downloads back to `pending`, due now, attempts 0; a part already stored is resumed.

    A download past Zoom's 24 h download_token uses the app's OAuth token. With BROKER_URL set
    they are enqueued at once; without it, the sweeper of the running `zoomhooks serve` takes
    them. A done download is not fetched again.
    """
    if (file_id is None) == (not failed):
        raise click.UsageError("give either a recording FILE_ID or --failed")
    with session.runtime() as runtime:
        if runtime.settings.recording_downloads is None:
            raise click.ClickException(
                "ZOOMHOOKS_RECORDINGS_STORAGE is not set for this command: set it as for "
                "serve and the workers, so the downloads are handed to their queue"
            )
        send = send_now(runtime.schedule_download)
        if file_id is None:
            hand_back_failed(
                runtime,
                runtime.downloads.failed_ids(),
                send=send,
                reset=lambda conn, batch: reset_downloads(conn, batch, from_statuses={"failed"}),
                noun="recording download",
                verb="Retry",
                scope="",
                yes=yes,
                as_json=as_json,
            )
            return
        _retry_one(runtime, file_id, as_json=as_json)


def _retry_one(runtime: Runtime, file_id: str, *, as_json: bool) -> None:
    row = runtime.downloads.get(file_id)
    if row is None:
        raise click.ClickException(f"no recording download for file {file_id}")
    status = str(row["status"])
    what = f"recording file {file_id}"
    if status in ("done", "running"):
        raise click.ClickException(f"{what} is {status}: nothing to retry")
    with runtime.engine.begin() as conn:
        reset = reset_downloads(conn, [row["id"]], from_statuses={status})
    if not reset:
        raise click.ClickException(f"{what} changed meanwhile; look again with recordings list")
    handback = Handback(runtime.settings, send_now(runtime.schedule_download), noun="download")
    handback(reset)
    report_one(
        handback, f"Retrying {what}: it was {status}.", as_json=as_json, fields={"was": status}
    )


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("lease_owner", "lease_until")}
