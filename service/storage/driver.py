"""Statements compiled once and handed to the database driver as they are, for the hot paths.

SQLAlchemy's per-call work (cache-key lookup, per-value bind processing) cost more CPU than
the database itself on the inbox INSERT and on follow-up pages (bench/ingest, bench/followup).
A `DriverStatement` keeps SQLAlchemy's compiler (so the SQL is dialect-correct) and its
transactions, and skips the rest. Values must already be what the column types would bind;
the one conversion needed, aware datetimes to UTCDateTime's SQLite text, is done here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, Dialect
from sqlalchemy.sql.dml import UpdateBase


@functools.lru_cache(maxsize=64)
def _sqlite_datetime(value: datetime) -> str:
    # The text UTCDateTime stores on SQLite (naive UTC); isoformat produces the same format.
    # Cached: a batch binds one `now` twice per row. Equal datetimes are the same instant, so
    # they have the same text whatever their time zone.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


@dataclass(frozen=True, slots=True)
class DriverStatement:
    sql: str
    names: tuple[str, ...]
    positional: bool
    sqlite: bool

    @classmethod
    def compile(
        cls, statement: UpdateBase, dialect: Dialect, names: Sequence[str]
    ) -> DriverStatement:
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        order = tuple(compiled.positiontup or names)
        return cls(compiled.string, order, bool(compiled.positional), dialect.name == "sqlite")

    def params(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        if self.sqlite:
            # Inline, not a call per value: this runs for every column of every row.
            converted = [
                _sqlite_datetime(v) if isinstance(v, datetime) else v
                for v in map(values.get, self.names)
            ]
        else:
            converted = [values.get(n) for n in self.names]
        return (
            tuple(converted) if self.positional else dict(zip(self.names, converted, strict=True))
        )

    def execute(self, conn: Connection, values: Mapping[str, Any]) -> CursorResult[Any]:
        return conn.exec_driver_sql(self.sql, self.params(values))

    def executemany(self, conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
        conn.exec_driver_sql(self.sql, [self.params(row) for row in rows])
