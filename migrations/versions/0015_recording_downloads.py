"""Recording downloads: one job per recording file, copied to the configured storage

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.storage.types import BigId, UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recording_downloads",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("file_id", sa.String(64), nullable=False, comment="recording_files.id"),
        sa.Column("recording_uuid", sa.String(64), nullable=False, comment="recordings.uuid"),
        sa.Column("app", sa.String(64), nullable=True, comment="the app that verified the event"),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("storage", sa.Text(), nullable=False, comment="the storage URL (no credentials)"),
        sa.Column("storage_key", sa.Text(), nullable=False, comment="the object's key below it"),
        sa.Column(
            "expected_size", sa.BigInteger(), nullable=True, comment="bytes, Zoom's file_size"
        ),
        sa.Column("bytes_stored", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "verified_size", sa.BigInteger(), nullable=True, comment="the size checked at the end"
        ),
        sa.Column(
            "auth", sa.String(16), nullable=True, comment="download_token or oauth, last used"
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "inbox_id", sa.BigInteger(), nullable=True, comment="the event that (re)queued it"
        ),
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
            "status IN ('pending', 'running', 'done', 'failed')",
            name=op.f("ck_recording_downloads_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_downloads")),
        sa.UniqueConstraint("file_id", name=op.f("uq_recording_downloads_file_id")),
    )
    op.create_index(
        op.f("ix_recording_downloads_status_next_attempt_at"),
        "recording_downloads",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        op.f("ix_recording_downloads_status_lease_until"),
        "recording_downloads",
        ["status", "lease_until"],
    )
    op.create_index(
        op.f("ix_recording_downloads_recording_uuid"), "recording_downloads", ["recording_uuid"]
    )


def downgrade() -> None:
    op.drop_table("recording_downloads")
