"""`zoomhooks events list` and `zoomhooks events show ID`: what is in the inbox."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from rich.json import JSON
from rich.text import Text

from service.ops import output, session
from service.ops.formatting import cell, describe_range, one_line, relative
from service.ops.options import (
    check_range,
    json_option,
    limit_option,
    range_options,
)
from service.ops.queries import events as queries
from service.ops.queries.events import EventFilter
from service.storage.models import STATUSES, webhook_events
from service.storage.types import utcnow


@click.group()
def events() -> None:
    """Look at the inbox (webhook_events): list events, show one in full."""


@events.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only events in this status.")
@click.option(
    "--event",
    "event_type",
    metavar="TYPE",
    help="Only this event type, e.g. webinar.ended; `*` matches anything (webinar.*).",
)
@range_options("events received")
@click.option(
    "--instance",
    metavar="UUID",
    help="Only events about this meeting or webinar instance (payload.object.uuid).",
)
@limit_option
@json_option
def list_events(
    status: str | None,
    event_type: str | None,
    since: datetime | None,
    until: datetime | None,
    instance: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List inbox events, newest first."""
    check_range(since, until)
    wanted = EventFilter(
        status=status, event=event_type, since=since, until=until, instance=instance
    )
    with session.reader() as engine, engine.connect() as conn:
        rows = queries.list_events(conn, wanted, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    if not rows:
        output.nothing("no inbox events match" + describe_range(since, until, verb="received"))
    if as_json:
        output.json_lines(dict(row) for row in rows)
        return
    now = utcnow()
    columns = (
        "id",
        "event",
        "status",
        "attempts",
        "deliveries",
        "received_at (UTC)",
        "age",
        "instance",
        "last_error",
    )
    table = output.table(
        columns,
        (
            (
                str(r["id"]),
                r["event"],
                Text(r["status"], style=output.status_style(r["status"])),
                str(r["attempts"]),
                str(r["deliveries"]),
                cell(r["received_at"]),
                relative(r["received_at"], now=now),
                cell(r["instance_uuid"]),
                one_line(r["last_error"]),
            )
            for r in rows
        ),
        title=f"{len(rows)} inbox event{'s' if len(rows) != 1 else ''}, newest first",
    )
    output.show(table)
    if more:
        output.note(f"more events match: raise --limit (now {limit}) or narrow the filters")


def _body(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@events.command("show")
@click.argument("inbox_id", metavar="ID", type=click.IntRange(min=1))
@json_option
def show_event(inbox_id: int, as_json: bool) -> None:
    """Show one inbox event: every column, its body, and what it produced."""
    with session.reader() as engine, engine.connect() as conn:
        row = queries.get_event(conn, inbox_id)
        if row is None:
            raise click.ClickException(f"no inbox event with id {inbox_id}")
        produced = queries.produced(conn, inbox_id)
        jobs = queries.followups_of(conn, inbox_id)
    body = _body(row["body"])
    if as_json:
        event = {**row, "body": body}
        output.json_line(
            {"event": event, "produced": produced, "followups": [dict(j) for j in jobs]}
        )
        return
    now = utcnow()
    fields = output.table(("column", "value"), (), title=f"inbox event {inbox_id}")
    for column in webhook_events.columns:
        if column.name == "body":
            continue
        value = row[column.name]
        shown = Text(cell(value))
        if column.name == "status":
            shown.stylize(output.status_style(value))
        elif isinstance(value, datetime):
            shown.append(f"  ({relative(value, now=now)})", style="dim")
        fields.add_row(Text(column.name), shown)
    produced_table = output.table(
        ("table", "rows with this inbox_id"),
        ((name, str(count)) for name, count in produced.items()),
        title="rows it produced",
        caption="instances, registrants: the rows it was the last to update",
    )
    renderables: list[Any] = [fields, produced_table]
    if jobs:
        renderables.append(
            output.table(
                (
                    "followup",
                    "resource",
                    "status",
                    "attempts",
                    "rows_stored",
                    "next_attempt_at",
                    "fetched_at",
                    "last_error",
                ),
                (
                    (
                        str(j["id"]),
                        j["resource"],
                        Text(j["status"], style=output.status_style(j["status"])),
                        str(j["attempts"]),
                        cell(j["rows_stored"]),
                        cell(j["next_attempt_at"]),
                        cell(j["fetched_at"]),
                        one_line(j["last_error"]),
                    )
                    for j in jobs
                ),
                title=f"follow-ups it created ({len(jobs)})",
            )
        )
    else:
        renderables.append(Text("follow-ups it created: none"))
    renderables.append(Text("body:", style="bold"))
    if isinstance(body, str):
        renderables.append(Text(body))
    else:
        renderables.append(JSON.from_data(body, indent=2, ensure_ascii=False))
    output.show(*renderables)
