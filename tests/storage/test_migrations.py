"""The Alembic head and the models agree, on SQLite and PostgreSQL, and migrations reverse."""

from __future__ import annotations

import threading

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from service.storage import db, migrate
from service.storage.models import metadata


def test_head_matches_the_models(database_url: str) -> None:
    engine = db.create(database_url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_downgrade_reverses(database_url: str) -> None:
    engine = db.create(database_url)
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    config = migrate.alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert "webhook_events" in inspect(engine).get_table_names()


def test_one_head() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(script.get_heads()) == 1


def test_concurrent_migrations_do_not_race(postgres_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        engine = db.create(postgres_url)
        try:
            barrier.wait()
            migrate.upgrade(engine)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert "webhook_events" in inspect(db.create(postgres_url)).get_table_names()
