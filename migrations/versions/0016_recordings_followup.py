"""Recordings follow-ups: backfill fetches a past instance's cloud recording

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_RESOURCES = (
    "resource IN ('participants', 'absentees', 'qa', 'polls', 'registrants', 'report', 'details')"
)
NEW_RESOURCES = (
    "resource IN ('participants', 'absentees', 'qa', 'polls', 'registrants', 'report', "
    "'details', 'recordings')"
)


def _resource_check(sql: str) -> None:
    """Swap the CHECK on followups.resource. SQLite copies the table to do it; its RENAME would
    then refuse the view `followup_health` (0003) that names the table, unless legacy mode."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA legacy_alter_table = ON")
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_followups_resource"), type_="check")
        batch_op.create_check_constraint(op.f("ck_followups_resource"), sql)
    if sqlite:
        op.execute("PRAGMA legacy_alter_table = OFF")


def upgrade() -> None:
    _resource_check(NEW_RESOURCES)


def downgrade() -> None:
    # Jobs of the new resource cannot live under the old constraint.
    op.execute("DELETE FROM followups WHERE resource = 'recordings'")
    _resource_check(OLD_RESOURCES)
