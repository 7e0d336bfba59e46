"""Opening the database (or the whole runtime) for one ops command, with readable failures.

The ops commands run as their own short process beside `serve`/`worker`, from the same
environment (DATABASE_URL, BROKER_URL, ...). Database errors become one line that names the
database, never its password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from service import boot, logs
from service.config import DEFAULT_DATABASE_URL, Settings, parse_database_url
from service.runtime import Runtime
from service.storage import db


def settings() -> Settings:
    return boot.start()


def _sqlite_file_exists(loaded: Settings) -> None:
    """An ops command never creates a database: a SQLite file that is not there means the
    command runs from another directory than `serve` (the default path is relative), or
    DATABASE_URL points elsewhere; an empty new file would answer every question with 0."""
    url = parse_database_url(loaded.database)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database).expanduser().resolve()
    if not path.is_file():
        raise click.ClickException(
            f"no database at {path}: the default DATABASE_URL "
            f"({DEFAULT_DATABASE_URL}) is relative to the working directory, so run this where "
            f"`zoomhooks serve` runs, or set DATABASE_URL (`zoomhooks dev` uses "
            f"sqlite:///data/dev.sqlite3); for a new database, run `zoomhooks migrate` first"
        )


def scrub(text: str, settings: Settings) -> str:
    """`text` without any secret this process knows (passwords in URLs included)."""
    return logs.Redactor(settings.secret_values()).scrub(text)


def describe(engine: Engine) -> str:
    """The database, safe to print: `postgresql+psycopg://zh:***@db:5432/zoomhooks`."""
    return engine.url.render_as_string(hide_password=True)


def database_error(
    engine: Engine, exc: SQLAlchemyError, settings: Settings
) -> click.ClickException:
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    first = scrub(lines[0], settings) if lines else type(original).__name__
    message = f"database error on {describe(engine)}: {first}"
    if "no such table" in first or ("relation" in first and "does not exist" in first):
        message += " (run `zoomhooks migrate` first)"
    return click.ClickException(message)


@contextmanager
def reader(loaded: Settings | None = None) -> Iterator[Engine]:
    """An engine on DATABASE_URL for the commands that only read.

    On SQLite it does not take the write lock at BEGIN, as the service's engine does: a long
    count would otherwise hold up the webhooks a running `serve` commits meanwhile. (With WAL,
    readers and the writer do not wait for each other.)
    """
    loaded = loaded or settings()
    _sqlite_file_exists(loaded)
    made = db.create(loaded.database, read_only=True)
    try:
        yield made
    except SQLAlchemyError as exc:
        raise database_error(made, exc, loaded) from None
    finally:
        made.dispose()


@contextmanager
def writer(loaded: Settings | None = None) -> Iterator[Engine]:
    """An engine on DATABASE_URL for the commands that delete or update rows themselves."""
    loaded = loaded or settings()
    _sqlite_file_exists(loaded)
    made = db.create(loaded.database)
    try:
        yield made
    except SQLAlchemyError as exc:
        raise database_error(made, exc, loaded) from None
    finally:
        made.dispose()


def opened_runtime() -> Runtime:
    """A runtime on a database that exists (the caller closes it)."""
    loaded = settings()
    _sqlite_file_exists(loaded)
    return Runtime(loaded)


@contextmanager
def runtime() -> Iterator[Runtime]:
    """The runtime, for the commands that enqueue (its broker is BROKER_URL's)."""
    made = opened_runtime()
    try:
        yield made
    except SQLAlchemyError as exc:
        raise database_error(made.engine, exc, made.settings) from None
    finally:
        made.close()
