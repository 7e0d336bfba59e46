"""Several Zoom apps, the rate governor's shared state, and who runs each follow-up

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: SQLite's table copy would break the views of 0003.
    op.add_column(
        "webhook_events",
        sa.Column(
            "app",
            sa.String(length=64),
            nullable=True,
            comment="the configured Zoom app it came to",
        ),
    )
    op.add_column(
        "followups",
        sa.Column(
            "claimed_by",
            sa.String(length=100),
            nullable=True,
            comment="host:pid of the last worker to run it",
        ),
    )
    op.create_table(
        "zoom_rate_state",
        sa.Column(
            "key",
            sa.String(length=200),
            nullable=False,
            comment="account, category or daily cap",
        ),
        sa.Column("state", sa.Text(), nullable=False, comment="the governor's record, JSON"),
        sa.Column(
            "expires_at",
            sa.Float(),
            nullable=False,
            comment="epoch seconds; then it may be dropped",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_zoom_rate_state")),
    )


def downgrade() -> None:
    op.drop_table("zoom_rate_state")
    op.drop_column("followups", "claimed_by")
    op.drop_column("webhook_events", "app")
