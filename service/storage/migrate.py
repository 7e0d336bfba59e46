"""Runs the Alembic migrations from code, from a checkout or from an installed wheel."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

_PACKAGE = Path(__file__).resolve().parent.parent
#: PostgreSQL advisory lock taken while migrating (an arbitrary constant, "zhmigrat" in hex-ish).
MIGRATION_LOCK_KEY = 0x7A686D69


def script_location() -> Path:
    """`service/_migrations` in a wheel; the top-level `migrations/` in a checkout."""
    for candidate in (_PACKAGE / "_migrations", _PACKAGE.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("Alembic scripts not found next to the service package")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database at `engine` to `revision` on one connection of that engine."""
    config = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two overlapping deploys (or a Job retried while the first still runs) queue here
            # instead of racing on CREATE TABLE; the lock ends with the transaction.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
