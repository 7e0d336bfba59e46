"""follow-up tables: instances, followups, fetched data, live timeline, tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.storage.types import BigId, UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "absentees",
        sa.Column(
            "pk",
            BigId,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("instance_uuid", sa.String(length=64), nullable=False),
        sa.Column("row_key", sa.String(length=64), nullable=False, comment="hash of id and email"),
        sa.Column("id", sa.String(length=64), nullable=True, comment="Zoom's registrant id"),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("create_time", UTCDateTime, nullable=True),
        sa.Column("data", sa.Text(), nullable=False, comment="the whole Zoom record, JSON"),
        sa.Column(
            "inbox_id", sa.BigInteger(), nullable=True, comment="webhook_events.id that caused it"
        ),
        sa.Column(
            "followup_id", sa.BigInteger(), nullable=True, comment="followups.id that fetched it"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_absentees")),
        sa.UniqueConstraint(
            "instance_uuid", "row_key", name=op.f("uq_absentees_instance_uuid_row_key")
        ),
    )
    op.create_table(
        "followups",
        sa.Column(
            "id",
            BigId,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("instance_uuid", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("resource", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=True),
        sa.Column("rows_stored", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("zm_trackingid", sa.String(length=200), nullable=True),
        sa.Column("fetched_at", UTCDateTime, nullable=True),
        sa.Column(
            "inbox_id", sa.BigInteger(), nullable=True, comment="the event that asked for it"
        ),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(
            "resource IN ('participants', 'absentees', 'qa', 'polls')",
            name=op.f("ck_followups_resource"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed', 'not_applicable')",
            name=op.f("ck_followups_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followups")),
        sa.UniqueConstraint(
            "instance_uuid", "resource", name=op.f("uq_followups_instance_uuid_resource")
        ),
    )
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_followups_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )

    op.create_table(
        "instances",
        sa.Column(
            "id",
            BigId,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column(
            "zoom_id", sa.BigInteger(), nullable=True, comment="the meeting or webinar number"
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("host_id", sa.String(length=64), nullable=True),
        sa.Column("topic", sa.Text(), nullable=True),
        sa.Column("type", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("start_time", UTCDateTime, nullable=True),
        sa.Column("end_time", UTCDateTime, nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True, comment="minutes, as Zoom reports it"),
        sa.Column(
            "inbox_id",
            sa.BigInteger(),
            nullable=True,
            comment="the last event that updated the row",
        ),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("kind IN ('meeting', 'webinar')", name=op.f("ck_instances_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
        sa.UniqueConstraint("uuid", name=op.f("uq_instances_uuid")),
    )
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instances_zoom_id_start_time"), ["zoom_id", "start_time"], unique=False
        )

    op.create_table(
        "participant_events",
        sa.Column(
            "pk",
            BigId,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("inbox_id", sa.BigInteger(), nullable=False),
        sa.Column("instance_uuid", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False, comment="joined or left"),
        sa.Column("event_ts", sa.BigInteger(), nullable=True),
        sa.Column(
            "at",
            UTCDateTime,
            nullable=True,
            comment="join_time or leave_time",
        ),
        sa.Column("id", sa.String(length=64), nullable=True, comment="participant.id"),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("participant_uuid", sa.String(length=64), nullable=True),
        sa.Column("user_name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("leave_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "action IN ('joined', 'left')", name=op.f("ck_participant_events_action")
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_participant_events")),
        sa.UniqueConstraint("inbox_id", name=op.f("uq_participant_events_inbox_id")),
    )
    with op.batch_alter_table("participant_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participant_events_instance_uuid_at"),
            ["instance_uuid", "at"],
            unique=False,
        )

    op.create_table(
        "participants",
        sa.Column(
            "pk",
            BigId,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("instance_uuid", sa.String(length=64), nullable=False),
        sa.Column(
            "row_key",
            sa.String(length=64),
            nullable=False,
            comment="hash of id, user_id, name, join_time",
        ),
        sa.Column(
            "id",
            sa.String(length=64),
            nullable=True,
            comment="Zoom's participant `id` (user id; '' for guests)",
        ),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("registrant_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("user_email", sa.Text(), nullable=True),
        sa.Column("join_time", UTCDateTime, nullable=True),
        sa.Column("leave_time", UTCDateTime, nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True, comment="seconds"),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("failover", sa.Boolean(), nullable=True),
        sa.Column("internal_user", sa.Boolean(), nullable=True),
        sa.Column(
            "inbox_id", sa.BigInteger(), nullable=True, comment="webhook_events.id that caused it"
        ),
        sa.Column(
            "followup_id", sa.BigInteger(), nullable=True, comment="followups.id that fetched it"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_participants")),
        sa.UniqueConstraint(
            "instance_uuid", "row_key", name=op.f("uq_participants_instance_uuid_row_key")
        ),
    )
    op.create_table(
        "poll_answers",
        sa.Column(
            "pk",
            BigId,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("instance_uuid", sa.String(length=64), nullable=False),
        sa.Column(
            "row_key",
            sa.String(length=64),
            nullable=False,
            comment="hash of respondent, poll, question",
        ),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("polling_id", sa.String(length=64), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("date_time", UTCDateTime, nullable=True),
        sa.Column(
            "inbox_id", sa.BigInteger(), nullable=True, comment="webhook_events.id that caused it"
        ),
        sa.Column(
            "followup_id", sa.BigInteger(), nullable=True, comment="followups.id that fetched it"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_poll_answers")),
        sa.UniqueConstraint(
            "instance_uuid", "row_key", name=op.f("uq_poll_answers_instance_uuid_row_key")
        ),
    )
    op.create_table(
        "qa_entries",
        sa.Column(
            "pk",
            BigId,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("instance_uuid", sa.String(length=64), nullable=False),
        sa.Column(
            "row_key", sa.String(length=64), nullable=False, comment="hash of asker and position"
        ),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False, comment="Zoom's question_details entry, JSON"),
        sa.Column(
            "inbox_id", sa.BigInteger(), nullable=True, comment="webhook_events.id that caused it"
        ),
        sa.Column(
            "followup_id", sa.BigInteger(), nullable=True, comment="followups.id that fetched it"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_qa_entries")),
        sa.UniqueConstraint(
            "instance_uuid", "row_key", name=op.f("uq_qa_entries_instance_uuid_row_key")
        ),
    )
    op.create_table(
        "registrants",
        sa.Column(
            "pk",
            BigId,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("webinar_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False, comment="Zoom's registrant id"),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("join_url", sa.Text(), nullable=True),
        sa.Column(
            "event_ts", sa.BigInteger(), nullable=True, comment="of the event that set `status`"
        ),
        sa.Column("data", sa.Text(), nullable=False, comment="the registrant object, JSON"),
        sa.Column("inbox_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_registrants")),
        sa.UniqueConstraint("webinar_id", "id", name=op.f("uq_registrants_webinar_id_id")),
    )
    op.create_table(
        "zoom_tokens",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True, comment="epoch seconds"),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True, comment="epoch seconds"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_zoom_tokens")),
    )


def downgrade() -> None:
    op.drop_table("zoom_tokens")
    op.drop_table("registrants")
    op.drop_table("qa_entries")
    op.drop_table("poll_answers")
    op.drop_table("participants")
    with op.batch_alter_table("participant_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participant_events_instance_uuid_at"))

    op.drop_table("participant_events")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instances_zoom_id_start_time"))

    op.drop_table("instances")
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_followups_status_next_attempt_at"))

    op.drop_table("followups")
    op.drop_table("absentees")
