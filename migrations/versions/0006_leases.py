"""Leases on inbox rows and follow-up jobs: who holds each, and until when

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.storage.types import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("webhook_events", "followups")


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: SQLite's table copy would break the views of 0003.
    for table in TABLES:
        op.add_column(
            table,
            sa.Column(
                "lease_owner",
                sa.String(length=100),
                nullable=True,
                comment="the claim holding the row",
            ),
        )
        op.add_column(
            table,
            sa.Column(
                "lease_until",
                UTCDateTime(),
                nullable=True,
                comment="until when, unless renewed",
            ),
        )
        op.create_index(op.f(f"ix_{table}_status_lease_until"), table, ["status", "lease_until"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(op.f(f"ix_{table}_status_lease_until"), table_name=table)
        op.drop_column(table, "lease_until")
        op.drop_column(table, "lease_owner")
