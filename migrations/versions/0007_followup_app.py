"""Follow-up jobs remember the app whose secret verified their event

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: SQLite's table copy would break the views of 0003.
    op.add_column(
        "followups",
        sa.Column(
            "app",
            sa.String(length=64),
            nullable=True,
            comment="the app whose secret verified its event",
        ),
    )


def downgrade() -> None:
    op.drop_column("followups", "app")
