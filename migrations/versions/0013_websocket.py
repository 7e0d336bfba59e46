"""The WebSocket transport: each event's transport, subscription leases, disconnect gaps

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.storage.types import BigId, UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: SQLite's table copy would break the views of 0003.
    # Every row stored so far came by webhook.
    op.add_column(
        "webhook_events",
        sa.Column(
            "transport",
            sa.String(length=16),
            server_default="webhook",
            nullable=False,
            comment="how the first delivery came: webhook or websocket",
        ),
    )
    op.create_table(
        "websocket_subscriptions",
        sa.Column("subscription_id", sa.String(128), nullable=False),
        sa.Column(
            "app", sa.String(64), nullable=False, comment="the configured Zoom app it belongs to"
        ),
        sa.Column("lease_owner", sa.String(100), nullable=True, comment="the listener holding it"),
        sa.Column(
            "lease_until", UTCDateTime(), nullable=True, comment="until when, unless renewed"
        ),
        sa.Column(
            "connected_at", UTCDateTime(), nullable=True, comment="since when its socket is open"
        ),
        sa.Column(
            "alive_at",
            UTCDateTime(),
            nullable=True,
            comment="when a listener last knew its socket worked: a gap starts here",
        ),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_websocket_subscriptions")),
    )
    op.create_table(
        "websocket_gaps",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.String(128), nullable=False),
        sa.Column("app", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column(
            "gap_from", UTCDateTime(), nullable=False, comment="the socket was last known alive"
        ),
        sa.Column("gap_to", UTCDateTime(), nullable=False, comment="a socket was open again"),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False, comment="the next reconcile attempt"),
        sa.Column(
            "backfilled",
            sa.Integer(),
            nullable=True,
            comment="instances found without follow-ups",
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'failed')", name=op.f("ck_websocket_gaps_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_websocket_gaps")),
    )
    op.create_index(op.f("ix_websocket_gaps_status_due_at"), "websocket_gaps", ["status", "due_at"])


def downgrade() -> None:
    op.drop_table("websocket_gaps")
    op.drop_table("websocket_subscriptions")
    op.drop_column("webhook_events", "transport")
