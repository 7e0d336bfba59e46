"""Options shared by the ops commands: --json, time ranges, --limit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from service.ops.timeparse import parse_when
from service.storage.types import utcnow

F = TypeVar("F", bound=Callable[..., Any])

#: Rows a listing shows unless told otherwise.
DEFAULT_LIMIT = 50


if TYPE_CHECKING:
    _ParamType = click.ParamType[datetime]
else:  # click < 8.4 has no type parameters at run time
    _ParamType = click.ParamType


class When(_ParamType):
    """ISO 8601 (UTC when naive) or a time ago (`30m`, `2h`, `7d`)."""

    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value), now=utcnow())
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


WHEN = When()


def json_option(f: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (one object per line) instead."
    )(f)


def range_options(what: str) -> Callable[[F], F]:
    """--since and --until, on `what` (e.g. "received")."""

    def decorate(f: F) -> F:
        f = click.option(
            "--until",
            type=WHEN,
            help=f"Only {what} before this: ISO 8601 (UTC if naive) or ago (30m, 2h, 7d).",
        )(f)
        return click.option(
            "--since",
            type=WHEN,
            help=f"Only {what} at or after this: ISO 8601 (UTC if naive) or ago (30m, 2h, 7d).",
        )(f)

    return decorate


def limit_option(f: F) -> F:
    return click.option(
        "--limit",
        type=click.IntRange(min=1),
        default=DEFAULT_LIMIT,
        show_default=True,
        help="Show at most this many rows, newest first.",
    )(f)


def check_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise click.UsageError(
            f"--since ({since.isoformat()}) must be earlier than --until ({until.isoformat()})"
        )


def check_one_or_failed(
    one: int | None, *, failed: bool, force: bool, filters: dict[str, object], noun: str, verb: str
) -> None:
    """`replay` and `followups retry` take one ID, or --failed with filters; --force only with
    an ID."""
    if (one is None) == (not failed):
        raise click.UsageError(f"give either {noun} ID or --failed")
    given = [name for name, value in filters.items() if value]
    if one is not None and given:
        raise click.UsageError(f"{', '.join(given)} go with --failed")
    if failed and force:
        raise click.UsageError(f"--force goes with one {noun} ID; --failed {verb} failed ones")
