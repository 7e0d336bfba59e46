"""Tables. Ops query these with SQL, so names are plain and documented in docs/."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from service.storage.types import BigId, UTCDateTime

# Named constraints keep Alembic's batch mode (SQLite) and autogenerate deterministic.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

STATUSES = ("received", "processing", "done", "failed", "ignored")
UNFINISHED = ("received", "processing")

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event", String(100), nullable=False),
    Column("event_ts", BigInteger, nullable=True, comment="ms since the epoch, as Zoom sent it"),
    Column("account_id", String(64), nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("dedupe_key", String(64), nullable=False, unique=True),
    Column("status", String(16), nullable=False, server_default="received"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("deliveries", Integer, nullable=False, server_default="1"),
    Column("last_error", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime, nullable=True),
    Column("request_timestamp", BigInteger, nullable=True, comment="x-zm-request-timestamp, s"),
    Column("zm_trackingid", String(200), nullable=True),
    Column("zm_request_id", String(200), nullable=True),
    Column("body", Text, nullable=False, comment="the request body exactly as received (UTF-8)"),
    CheckConstraint(
        "status IN ('received', 'processing', 'done', 'failed', 'ignored')", name="status"
    ),
    Index(None, "status", "updated_at"),
    Index(None, "event", "event_ts"),
    Index(None, "received_at"),
)
