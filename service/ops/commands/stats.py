"""`zoomhooks stats`: is the inbox keeping up, what fails, how the follow-ups stand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click
from rich.text import Text

from service.ops import output, session
from service.ops.formatting import cell, duration, iso, one_line, relative
from service.ops.options import json_option
from service.ops.queries.stats import ERROR_PREFIX, Stats, collect
from service.storage.models import FOLLOWUP_STATUSES
from service.storage.types import utcnow
from service.storage.usage import DAILY_CAPPED


@click.command()
@json_option
def stats(as_json: bool) -> None:
    """Inbox backlog and lag, recent volume, top failures, follow-ups by resource and status."""
    loaded = session.settings()
    with session.reader(loaded) as engine, engine.connect() as conn:
        found = collect(conn, now=utcnow())
    if as_json:
        output.json_line({**as_dict(found), "zoom": zoom_budget(found, loaded.zoom_daily_cap)})
    else:
        output.show(*render(found), *render_zoom(found, loaded.zoom_daily_cap))


def zoom_budget(s: Stats, cap: int | None) -> dict[str, Any]:
    """Today's calls per account, and the share of the daily cap (Heavy + Resource-intensive)."""
    accounts = {}
    for account, categories in s.zoom_today.items():
        capped = sum(categories.get(c, 0) for c in DAILY_CAPPED)
        accounts[account] = {
            "calls_by_category": categories,
            "daily_capped_calls": capped,
            "daily_cap": cap,
            "daily_cap_used": None if cap is None else round(capped / cap, 4),
        }
    return {"day": s.now.date().isoformat(), "accounts": accounts}


def render_zoom(s: Stats, cap: int | None) -> list[Any]:
    budget = zoom_budget(s, cap)["accounts"]
    if not budget:
        return [Text("Zoom API calls today (UTC): none")]
    rows = []
    for account, b in budget.items():
        used = "cap not set" if cap is None else f"{b['daily_cap_used']:.1%} of {cap}"
        by_category = ", ".join(f"{k} {v}" for k, v in sorted(b["calls_by_category"].items()))
        rows.append((account, by_category, f"{b['daily_capped_calls']} ({used})"))
    return [
        output.table(
            ("account", "calls by category", "Heavy + Resource-intensive"),
            rows,
            title="Zoom API calls today (UTC)",
        )
    ]


def as_dict(s: Stats) -> dict[str, Any]:
    oldest = s.oldest_unfinished
    return {
        "now": iso(s.now),
        "inbox": {
            "by_status": s.inbox,
            "total": sum(s.inbox.values()),
            "received_last_hour": s.received_last_hour,
            "received_last_day": s.received_last_day,
            "oldest_unfinished": oldest,
            "lag_seconds": None if oldest is None else oldest["age_seconds"],
        },
        "failures": {
            "total": s.inbox.get("failed", 0),
            "prefix_length": ERROR_PREFIX,
            "top": [{"prefix": f.prefix, "count": f.count} for f in s.failures],
        },
        "followups": {
            "by_resource": s.followups,
            "oldest_due": s.oldest_due_followup,
            "failures": [{"prefix": f.prefix, "count": f.count} for f in s.followup_failures],
        },
    }


def render(s: Stats) -> list[Any]:
    shown: list[Any] = []
    inbox = output.table(
        ("status", "events"),
        (
            (Text(status, style=output.status_style(status)), str(count))
            for status, count in s.inbox.items()
        ),
        title="inbox (webhook_events)",
    )
    shown.append(inbox)
    shown.append(
        Text(
            f"received in the last hour: {s.received_last_hour}, "
            f"in the last day: {s.received_last_day}"
        )
    )
    oldest = s.oldest_unfinished
    if oldest is None:
        shown.append(Text("oldest unfinished event: none (no backlog)", style="green"))
    else:
        lag = duration(timedelta(seconds=oldest["age_seconds"]))
        shown.append(
            Text(
                f"oldest unfinished event: {oldest['id']} ({oldest['event']}, {oldest['status']}), "
                f"received {cell(oldest['received_at'])} UTC: lag {lag}",
                style="yellow",
            )
        )
    failed = s.inbox.get("failed", 0)
    if s.failures:
        shown.append(
            output.table(
                ("events", f"last_error (first {ERROR_PREFIX} characters)"),
                (
                    (str(f.count), one_line(f.prefix, ERROR_PREFIX + 1) or "(no error recorded)")
                    for f in s.failures
                ),
                title=f"failed events: {failed}; most common causes",
                styles={"events": "red"},
            )
        )
    else:
        shown.append(Text("failed events: none", style="green"))
    matrix = output.table(
        ("resource", *FOLLOWUP_STATUSES, "total"),
        (
            (
                resource,
                *(str(counts.get(st, 0)) for st in FOLLOWUP_STATUSES),
                str(sum(counts.values())),
            )
            for resource, counts in s.followups.items()
        ),
        title="follow-ups by resource and status",
    )
    shown.append(matrix)
    due = s.oldest_due_followup
    if due is None:
        shown.append(Text("oldest due follow-up: none waiting past its time", style="green"))
    else:
        when = (
            "due at once (retried by hand; waiting for a worker or the sweeper)"
            if due["next_attempt_at"] is None
            else f"due {relative(due['next_attempt_at'], now=s.now)}"
        )
        shown.append(
            Text(
                f"oldest due follow-up: {due['id']} ({due['resource']} of {due['instance_uuid']}, "
                f"attempts {due['attempts']}), {when}",
                style="yellow",
            )
        )
    if s.followup_failures:
        shown.append(
            output.table(
                ("jobs", f"last_error (first {ERROR_PREFIX} characters)"),
                (
                    (str(f.count), one_line(f.prefix, ERROR_PREFIX + 1) or "(no error recorded)")
                    for f in s.followup_failures
                ),
                title="failed follow-ups: most common causes "
                "(`zoomhooks followups list --status failed` for all of it)",
                styles={"jobs": "red"},
            )
        )
    return shown
