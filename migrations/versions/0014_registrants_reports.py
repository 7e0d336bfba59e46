"""Registrants listing, report participants and report details follow-ups

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.storage.types import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_RESOURCES = "resource IN ('participants', 'absentees', 'qa', 'polls')"
NEW_RESOURCES = (
    "resource IN ('participants', 'absentees', 'qa', 'polls', 'registrants', 'report', 'details')"
)


def _pk() -> sa.Column[int]:
    return sa.Column(
        "pk",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def _traced() -> list[sa.Column[int]]:
    return [
        sa.Column(
            "inbox_id", sa.BigInteger(), nullable=True, comment="webhook_events.id that caused it"
        ),
        sa.Column(
            "followup_id", sa.BigInteger(), nullable=True, comment="followups.id that fetched it"
        ),
    ]


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

    with op.batch_alter_table("registrants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "create_time",
                UTCDateTime(timezone=True),
                nullable=True,
                comment="when they registered, per Zoom",
            )
        )
        batch_op.add_column(
            sa.Column(
                "listed_at",
                UTCDateTime(timezone=True),
                nullable=True,
                comment="Zoom's listing last showed them",
            )
        )
        batch_op.add_column(
            sa.Column(
                "followup_id",
                sa.BigInteger(),
                nullable=True,
                comment="followups.id of that listing",
            )
        )

    op.create_table(
        "registrant_answers",
        _pk(),
        sa.Column("webinar_id", sa.BigInteger(), nullable=False),
        sa.Column("registrant_id", sa.String(length=64), nullable=False, comment="registrants.id"),
        sa.Column(
            "title",
            sa.String(length=300),
            nullable=False,
            comment="the question, as the form asks it",
        ),
        sa.Column("value", sa.Text(), nullable=True, comment="the registrant's answer"),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_registrant_answers")),
        sa.UniqueConstraint(
            "webinar_id",
            "registrant_id",
            "title",
            name=op.f("uq_registrant_answers_webinar_id_registrant_id_title"),
        ),
    )
    with op.batch_alter_table("registrant_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registrant_answers_webinar_id_title"), ["webinar_id", "title"]
        )

    op.create_table(
        "report_participants",
        _pk(),
        sa.Column("instance_uuid", sa.String(length=64), nullable=False),
        sa.Column(
            "row_key",
            sa.String(length=64),
            nullable=False,
            comment="hash of ids, name, email, join_time",
        ),
        sa.Column(
            "id",
            sa.String(length=64),
            nullable=True,
            comment="Zoom's participant `id` ('' for guests)",
        ),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("participant_user_id", sa.String(length=64), nullable=True),
        sa.Column("registrant_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("user_email", sa.Text(), nullable=True),
        sa.Column("join_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("leave_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True, comment="seconds"),
        sa.Column(
            "status", sa.String(length=32), nullable=True, comment="in_meeting or in_waiting_room"
        ),
        sa.Column("failover", sa.Boolean(), nullable=True),
        sa.Column(
            "customer_key", sa.String(length=64), nullable=True, comment="the SDK's customer key"
        ),
        sa.Column(
            "bo_mtg_id", sa.String(length=64), nullable=True, comment="breakout room meeting id"
        ),
        *_traced(),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_report_participants")),
        sa.UniqueConstraint(
            "instance_uuid", "row_key", name=op.f("uq_report_participants_instance_uuid_row_key")
        ),
    )

    op.create_table(
        "instance_details",
        _pk(),
        sa.Column("instance_uuid", sa.String(length=64), nullable=False),
        sa.Column(
            "zoom_id", sa.BigInteger(), nullable=True, comment="the meeting or webinar number"
        ),
        sa.Column("topic", sa.Text(), nullable=True),
        sa.Column("type", sa.Integer(), nullable=True),
        sa.Column("host_name", sa.Text(), nullable=True, comment="Zoom's `user_name`"),
        sa.Column("host_email", sa.Text(), nullable=True, comment="Zoom's `user_email`"),
        sa.Column("dept", sa.Text(), nullable=True, comment="the host's department"),
        sa.Column("start_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True, comment="minutes"),
        sa.Column(
            "total_minutes", sa.Integer(), nullable=True, comment="all participants' minutes"
        ),
        sa.Column("participants_count", sa.Integer(), nullable=True),
        sa.Column("custom_keys", sa.Text(), nullable=True, comment="JSON list of {key, value}"),
        sa.Column(
            "tracking_fields", sa.Text(), nullable=True, comment="JSON list of {field, value}"
        ),
        sa.Column("data", sa.Text(), nullable=False, comment="the whole Zoom report, JSON"),
        *_traced(),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_instance_details")),
        sa.UniqueConstraint("instance_uuid", name=op.f("uq_instance_details_instance_uuid")),
    )


def downgrade() -> None:
    op.drop_table("instance_details")
    op.drop_table("report_participants")
    with op.batch_alter_table("registrant_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registrant_answers_webinar_id_title"))
    op.drop_table("registrant_answers")
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # the copy's RENAME would refuse the view `attendance_summary` (0003)
        op.execute("PRAGMA legacy_alter_table = ON")
    with op.batch_alter_table("registrants", schema=None) as batch_op:
        batch_op.drop_column("followup_id")
        batch_op.drop_column("listed_at")
        batch_op.drop_column("create_time")
    if sqlite:
        op.execute("PRAGMA legacy_alter_table = OFF")
    # Jobs of the new resources cannot live under the old constraint.
    op.execute("DELETE FROM followups WHERE resource IN ('registrants', 'report', 'details')")
    _resource_check(OLD_RESOURCES)
