"""zoom_api_usage: Zoom API calls per UTC day, account and rate-limit category

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "zoom_api_usage",
        sa.Column("day", sa.Date(), nullable=False, comment="UTC day"),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column(
            "category", sa.String(length=32), nullable=False, comment="Zoom's rate-limit category"
        ),
        sa.Column("calls", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("day", "account_id", "category", name=op.f("pk_zoom_api_usage")),
    )


def downgrade() -> None:
    op.drop_table("zoom_api_usage")
