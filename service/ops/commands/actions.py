"""`zoomhooks actions list` and `zoomhooks actions run`: the write-side actions and their audit."""

from __future__ import annotations

import getpass
import json
from typing import Any

import click
from rich.text import Text

from service.ops import output, session
from service.ops.formatting import cell, one_line, plural
from service.ops.options import json_option, limit_option
from service.storage.actions import ActionJobs
from service.storage.models import ACTION_STATUSES

#: A finished action is only sent to Zoom again with --force; a `running` one is a worker's.
FORCED = frozenset({"done"})

COLUMNS = (
    "id",
    "app",
    "kind",
    "target",
    "status",
    "dry_run",
    "zoom",
    "created_at (UTC)",
    "requested_by",
    "fix / message",
)


@click.group()
def actions() -> None:
    """Write-side actions (approve/deny registrants, reassign hosts): list them, run them."""


@actions.command("list")
@click.option("--status", type=click.Choice(ACTION_STATUSES), help="Only actions in this status.")
@click.option("--app", metavar="NAME", help="Only actions of this app.")
@limit_option
@json_option
def list_actions(status: str | None, app: str | None, limit: int, as_json: bool) -> None:
    """List actions, newest first, with Zoom's answer and the fix for a refusal."""
    with session.reader() as engine:
        rows = ActionJobs(engine).list(app=app, status=status, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    if not rows:
        output.nothing("no actions match")
    if as_json:
        output.json_lines(_jsonable(row) for row in rows)
        return
    table = output.table(
        COLUMNS,
        (
            (
                str(r["id"]),
                r["app"],
                r["kind"],
                r["target"],
                Text(r["status"], style=output.status_style(r["status"])),
                "yes" if r["dry_run"] else "no",
                _zoom(r),
                cell(r["created_at"]),
                r["requested_by"],
                one_line(r["fix"] or r["zoom_message"]),
            )
            for r in rows
        ),
        title=f"{plural(len(rows), 'action')}, newest first",
    )
    output.show(table)
    if more:
        output.note(f"more actions match: raise --limit (now {limit}) or narrow the filters")


@actions.command("run")
@click.argument("action_id", metavar="ID", type=click.IntRange(min=1))
@click.option("--dry-run", is_flag=True, help="Record what would be sent, without calling Zoom.")
@click.option("--force", is_flag=True, help="Send an action that is already done again.")
@json_option
def run(action_id: int, dry_run: bool, force: bool, as_json: bool) -> None:
    """Run one action now, in this process, and show Zoom's answer.

    Without --dry-run this sends it for real, also when the app's rule recorded it as a dry
    run: review with `actions list --status dry_run`, then run the ones you want. The audit
    row records you (ops:<login>) as who asked.
    """
    who = f"ops:{getpass.getuser()}"
    with session.runtime() as runtime:
        jobs = runtime.actions
        row = jobs.get(action_id)
        if row is None:
            raise click.ClickException(f"no action with id {action_id}")
        what = f"action {action_id} ({row['kind']} on {row['target']})"
        if row["status"] == "running":
            raise click.ClickException(f"{what} is running in a worker; look again shortly")
        if row["status"] in FORCED and not force:
            raise click.ClickException(f"{what} is done: pass --force to send it to Zoom again")
        if not jobs.again(action_id, dry_run=dry_run, requested_by=who):
            raise click.ClickException(f"{what} changed meanwhile; look again with actions list")
        runtime.action_runner.run(action_id)
        after = jobs.get(action_id)
    assert after is not None
    if as_json:
        output.json_line(_jsonable(after))
    else:
        output.show(
            Text(f"{what}: {after['status']}", style=output.status_style(after["status"])),
            Text(
                f"Zoom: {_zoom(after)}; {after['fix'] or after['zoom_message'] or ''}".rstrip("; ")
            ),
        )
    if after["status"] == "failed":
        raise SystemExit(1)


def _zoom(row: dict[str, Any]) -> str:
    if row["zoom_status"] is None:
        return "-"
    code = f" code {row['zoom_code']}" if row["zoom_code"] is not None else ""
    return f"{row['zoom_status']}{code}"


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    found = {k: v for k, v in row.items() if k not in ("lease_owner", "lease_until")}
    found["request"] = json.loads(row["request"])
    return found
