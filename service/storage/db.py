"""Engines for SQLite (the embedded default) and PostgreSQL, with the settings durability needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

from service.config import DEFAULT_POOL_SIZE, parse_database_url

#: How long a SQLite writer waits for the lock before giving up (milliseconds).
DEFAULT_SQLITE_BUSY_TIMEOUT = 10_000
#: How long a thread waits for this process's one SQLite connection (seconds).
DEFAULT_SQLITE_POOL_TIMEOUT = 60
#: A PostgreSQL connect attempt that takes longer fails, so the endpoint can answer 503 (seconds).
DEFAULT_CONNECT_TIMEOUT = 3


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web thread write while workers read; synchronous=FULL fsyncs the WAL on every
    # commit, so an acknowledged event survives a process crash and a power cut.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={DEFAULT_SQLITE_BUSY_TIMEOUT}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Take the write lock at BEGIN: a deferred transaction that reads then writes can fail with
    # "database is locked" without waiting, which busy_timeout cannot help.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create(
    url: str,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    read_only: bool = False,
    pre_ping: bool = True,
    pool_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Engine:
    """An engine for `url`; SQLite files get their directory created and durable pragmas.

    `read_only` (for inspection commands beside a running service): SQLite transactions do not
    take the write lock at BEGIN, so a long read never holds up the service's commits.
    `pre_ping` and `pool_timeout` (seconds) apply to PostgreSQL's pool.
    """
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        in_memory = database in ("", ":memory:")
        # Every transaction takes SQLite's write lock at BEGIN, so they run one at a time
        # anyway. One pooled connection makes the threads of this process queue for it in
        # order, instead of sleeping in SQLite's busy handler (1-100 ms a try), which is what
        # gave seconds-long p99s under load. busy_timeout still arbitrates other processes.
        engine = create_engine(
            parsed,
            # Values (tokens, e-mails) never go into exception texts, hence logs and rows.
            hide_parameters=True,
            connect_args={"check_same_thread": False, "isolation_level": None},
            poolclass=NullPool if in_memory else None,
            **(
                {}
                if in_memory
                else {
                    "pool_size": 1,
                    "max_overflow": 0,
                    "pool_timeout": DEFAULT_SQLITE_POOL_TIMEOUT,
                }
            ),
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if not read_only:
            event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    return create_engine(
        parsed,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_timeout=pool_timeout,
        connect_args=connect_args,
    )
