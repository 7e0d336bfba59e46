"""Write-side actions: one audit row per action, which is also its job

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.storage.types import BigId, UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("app", sa.String(64), nullable=False, comment="the app whose rule asked for it"),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column(
            "inbox_id",
            sa.BigInteger(),
            nullable=False,
            comment="webhook_events.id that triggered it",
        ),
        sa.Column(
            "kind",
            sa.String(32),
            nullable=False,
            comment="registrant.approve, meeting.schedule_for…",
        ),
        sa.Column("target", sa.Text(), nullable=False, comment="what it acts on, for people"),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.Text(), nullable=False, comment="below the API base URL"),
        sa.Column(
            "request", sa.Text(), nullable=False, comment="the JSON body sent (or that would be)"
        ),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("zoom_status", sa.Integer(), nullable=True, comment="Zoom's HTTP status"),
        sa.Column("zoom_code", sa.Integer(), nullable=True, comment="Zoom's error code"),
        sa.Column("zoom_message", sa.Text(), nullable=True),
        sa.Column(
            "fix", sa.Text(), nullable=True, comment="what an operator must do, for a refusal"
        ),
        sa.Column("zm_trackingid", sa.String(200), nullable=True),
        sa.Column(
            "requested_by", sa.String(200), nullable=False, comment="the rule, or ops:<user>"
        ),
        sa.Column("reason", sa.Text(), nullable=True, comment="why the rule asked"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column(
            "claimed_by", sa.String(100), nullable=True, comment="host:pid of the last worker"
        ),
        sa.Column(
            "lease_owner", sa.String(100), nullable=True, comment="the claim holding the row"
        ),
        sa.Column(
            "lease_until", UTCDateTime(), nullable=True, comment="until when, unless renewed"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'dry_run', 'failed')",
            name=op.f("ck_actions_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions")),
        sa.UniqueConstraint("inbox_id", "kind", name=op.f("uq_actions_inbox_id_kind")),
    )
    op.create_index(
        op.f("ix_actions_status_next_attempt_at"), "actions", ["status", "next_attempt_at"]
    )
    op.create_index(op.f("ix_actions_status_lease_until"), "actions", ["status", "lease_until"])
    op.create_index(op.f("ix_actions_app_created_at"), "actions", ["app", "created_at"])


def downgrade() -> None:
    op.drop_table("actions")
