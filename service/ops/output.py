"""Where ops commands write: rich tables for people, JSON for programs.

Data never goes through rich's markup (an error text like `KeyError: ['x']` stays as it is),
and when stdout is not a terminal the console is wide, so piped output is not cut.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from service.ops.formatting import jsonable

#: From this many rows on, a bulk command shows a progress bar (on stderr).
PROGRESS_FROM = 20
#: Width when stdout is a pipe or a file (rich would otherwise assume 80 columns).
PIPE_WIDTH = 240


def console(*, stderr: bool = False) -> Console:
    """A console on the current stdout (or stderr): made per call, so test runners see it."""
    probe = Console(stderr=stderr)
    width = None if probe.is_terminal or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(stderr=stderr, width=width, highlight=False, emoji=False)


def json_line(value: Any) -> None:
    click.echo(json.dumps(jsonable(value), ensure_ascii=False, sort_keys=False))


def json_lines(values: Iterable[Any]) -> None:
    for value in values:
        json_line(value)


def text(value: str, style: str = "") -> Text:
    return Text(value, style=style)


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[str | Text]],
    *,
    title: str | None = None,
    caption: str | None = None,
    styles: Mapping[str, str] | None = None,
) -> Table:
    """A table of plain-text cells (never markup). `styles` maps a column to a rich style."""
    shown = Table(
        title=title,
        title_justify="left",
        caption=caption,
        caption_justify="left",
        header_style="bold",
    )
    for name in columns:
        shown.add_column(name, style=(styles or {}).get(name, ""), overflow="fold")
    for row in rows:
        shown.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in row))
    return shown


def show(*renderables: RenderableType) -> None:
    out = console()
    for renderable in renderables:
        # A line of prose is left to the terminal to wrap, so a pipe gets it whole.
        out.print(renderable, soft_wrap=isinstance(renderable, Text))


def note(message: str, *, style: str = "yellow", stderr: bool = False) -> None:
    """A remark for the operator (in --json mode, remarks go inside the JSON instead)."""
    console(stderr=stderr).print(Text(message, style=style), soft_wrap=True)


def status_style(status: str) -> str:
    return {
        "done": "green",
        "failed": "bold red",
        "received": "yellow",
        "pending": "yellow",
        "processing": "cyan",
        "running": "cyan",
        "ignored": "dim",
        "not_applicable": "dim",
        "dry_run": "magenta",
    }.get(status, "")


def nothing(message: str) -> NoReturn:
    """Nothing matched: say so on stderr and exit 1 (stdout stays empty for --json)."""
    click.echo(message, err=True)
    raise SystemExit(1)


@contextmanager
def progress(total: int, *, label: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`; draws a bar on stderr when enabled and `total` is large."""
    if not enabled or total < PROGRESS_FROM:
        yield lambda _n: None
        return
    columns = (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
