"""webhook_events: the inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.storage.types import BigId, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column(
            "event_ts", sa.BigInteger, nullable=True, comment="ms since the epoch, as Zoom sent it"
        ),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="received"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("deliveries", sa.Integer, nullable=False, server_default="1"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("processed_at", UTCDateTime, nullable=True),
        sa.Column(
            "request_timestamp", sa.BigInteger, nullable=True, comment="x-zm-request-timestamp, s"
        ),
        sa.Column("zm_trackingid", sa.String(200), nullable=True),
        sa.Column("zm_request_id", sa.String(200), nullable=True),
        sa.Column(
            "body", sa.Text, nullable=False, comment="the request body exactly as received (UTF-8)"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_events"),
        sa.UniqueConstraint("dedupe_key", name="uq_webhook_events_dedupe_key"),
        sa.CheckConstraint(
            "status IN ('received', 'processing', 'done', 'failed', 'ignored')",
            name="ck_webhook_events_status",
        ),
    )
    op.create_index(
        "ix_webhook_events_status_updated_at", "webhook_events", ["status", "updated_at"]
    )
    op.create_index("ix_webhook_events_event_event_ts", "webhook_events", ["event", "event_ts"])
    op.create_index("ix_webhook_events_received_at", "webhook_events", ["received_at"])


def downgrade() -> None:
    op.drop_table("webhook_events")
