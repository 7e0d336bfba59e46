"""Recordings and their files, with the state of each file's local copy

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.storage.types import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recording_files",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=64), nullable=False, comment="Zoom's recording file id"),
        sa.Column(
            "recording_uuid", sa.String(length=64), nullable=False, comment="recordings.uuid"
        ),
        sa.Column(
            "participant_audio",
            sa.Boolean(),
            nullable=False,
            comment="a per-participant audio file",
        ),
        sa.Column("recording_type", sa.String(length=64), nullable=True),
        sa.Column("file_type", sa.String(length=32), nullable=True),
        sa.Column("file_extension", sa.String(length=16), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True, comment="bytes, as Zoom reports it"),
        sa.Column("checksum", sa.String(length=128), nullable=True, comment="if Zoom sent one"),
        sa.Column("play_url", sa.Text(), nullable=True),
        sa.Column("download_url", sa.Text(), nullable=True),
        sa.Column("recording_start", UTCDateTime(timezone=True), nullable=True),
        sa.Column("recording_end", UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True, comment="Zoom's file status"),
        sa.Column(
            "event_ts", sa.BigInteger(), nullable=True, comment="of the event that last set the row"
        ),
        sa.Column("inbox_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "download_state",
            sa.String(length=16),
            nullable=True,
            comment="pending, stored or failed",
        ),
        sa.Column("storage_uri", sa.Text(), nullable=True),
        sa.Column("bytes_stored", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column(
            "verified", sa.Boolean(), nullable=True, comment="size (and checksum) matched Zoom's"
        ),
        sa.Column("downloaded_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "download_state IS NULL OR download_state IN ('pending', 'stored', 'failed')",
            name=op.f("ck_recording_files_download_state"),
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_recording_files")),
        sa.UniqueConstraint("id", name=op.f("uq_recording_files_id")),
    )
    with op.batch_alter_table("recording_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recording_files_recording_uuid"), ["recording_uuid"], unique=False
        )

    op.create_table(
        "recordings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uuid", sa.String(length=64), nullable=False, comment="the recorded instance"),
        sa.Column(
            "zoom_id", sa.BigInteger(), nullable=True, comment="the meeting or webinar number"
        ),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("host_id", sa.String(length=64), nullable=True),
        sa.Column("host_email", sa.Text(), nullable=True),
        sa.Column("topic", sa.Text(), nullable=True),
        sa.Column("type", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("start_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True, comment="minutes, as Zoom reports it"),
        sa.Column("total_size", sa.BigInteger(), nullable=True, comment="bytes, all files"),
        sa.Column("recording_count", sa.Integer(), nullable=True),
        sa.Column("share_url", sa.Text(), nullable=True),
        sa.Column(
            "download_token", sa.Text(), nullable=True, comment="the freshest one Zoom sent (24 h)"
        ),
        sa.Column(
            "event_ts", sa.BigInteger(), nullable=True, comment="of the event that set the token"
        ),
        sa.Column(
            "inbox_id",
            sa.BigInteger(),
            nullable=True,
            comment="the last event that updated the row",
        ),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("uuid", name=op.f("uq_recordings_uuid")),
    )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recordings_host_id_start_time"), ["host_id", "start_time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recordings_zoom_id_start_time"), ["zoom_id", "start_time"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recordings_zoom_id_start_time"))
        batch_op.drop_index(batch_op.f("ix_recordings_host_id_start_time"))

    op.drop_table("recordings")
    with op.batch_alter_table("recording_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recording_files_recording_uuid"))

    op.drop_table("recording_files")
