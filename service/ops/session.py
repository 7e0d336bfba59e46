"""Opening the database (or the whole runtime) for one ops command, with readable failures.

The ops commands run as their own short process beside `serve`/`worker`, from the same
environment (DATABASE_URL, BROKER_URL, ...). Database errors become one line that names the
database, never its password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from service import boot, logs
from service.config import Settings
from service.runtime import Runtime
from service.storage import db


def settings() -> Settings:
    return boot.start()


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
    made = db.create(loaded.database)
    try:
        yield made
    except SQLAlchemyError as exc:
        raise database_error(made, exc, loaded) from None
    finally:
        made.dispose()


@contextmanager
def runtime() -> Iterator[Runtime]:
    """The runtime, for the commands that enqueue (its broker is BROKER_URL's)."""
    made = Runtime(settings())
    try:
        yield made
    except SQLAlchemyError as exc:
        raise database_error(made.engine, exc, made.settings) from None
    finally:
        made.close()
