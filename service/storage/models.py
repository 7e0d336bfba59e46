"""Tables. Ops query these with SQL, so names are plain and documented in docs/."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from service.storage.types import BigId, UTCDateTime

# Named constraints keep Alembic's batch mode (SQLite) and autogenerate deterministic.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _lease() -> list[Column[object]]:
    return [
        Column("lease_owner", String(100), nullable=True, comment="the claim holding the row"),
        Column("lease_until", UTCDateTime, nullable=True, comment="until when, unless renewed"),
    ]


STATUSES = ("received", "processing", "done", "failed", "ignored")
UNFINISHED = ("received", "processing")

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event", String(100), nullable=False),
    Column("event_ts", BigInteger, nullable=True, comment="ms since the epoch, as Zoom sent it"),
    Column("account_id", String(64), nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("dedupe_key", String(64), nullable=False, unique=True),
    Column("status", String(16), nullable=False, server_default="received"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("deliveries", Integer, nullable=False, server_default="1"),
    Column("last_error", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime, nullable=True),
    Column("request_timestamp", BigInteger, nullable=True, comment="x-zm-request-timestamp, s"),
    Column("zm_trackingid", String(200), nullable=True),
    Column("zm_request_id", String(200), nullable=True),
    Column("body", Text, nullable=False, comment="the request body exactly as received (UTF-8)"),
    Column("app", String(64), nullable=True, comment="the configured Zoom app it came to"),
    *_lease(),
    Column(
        "transport",
        String(16),
        nullable=False,
        server_default="webhook",
        comment="how the first delivery came: webhook or websocket",
    ),
    CheckConstraint(
        "status IN ('received', 'processing', 'done', 'failed', 'ignored')", name="status"
    ),
    Index(None, "status", "updated_at"),
    Index(None, "status", "lease_until"),
    Index(None, "event", "event_ts"),
    Index(None, "received_at"),
)


# Follow-up data. Every row names the inbox event and/or follow-up that produced it.
INSTANCE_KINDS = ("meeting", "webinar")
RESOURCES = (
    "participants",
    "absentees",
    "qa",
    "polls",
    "registrants",  # GET /webinars/{webinarId}/registrants, every status
    "report",  # GET /report/{webinars|meetings}/{id}/participants
    "details",  # GET /report/{webinars|meetings}/{id}
    "recordings",  # GET /meetings/{meetingId}/recordings, backfill only
)
FOLLOWUP_STATUSES = ("pending", "running", "done", "failed", "not_applicable")


def _traced() -> list[Column[int]]:
    return [
        Column("inbox_id", BigInteger, nullable=True, comment="webhook_events.id that caused it"),
        Column("followup_id", BigInteger, nullable=True, comment="followups.id that fetched it"),
    ]


instances = Table(
    "instances",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("uuid", String(64), nullable=False, unique=True),
    Column("zoom_id", BigInteger, nullable=True, comment="the meeting or webinar number"),
    Column("kind", String(16), nullable=False),
    Column("account_id", String(64), nullable=True),
    Column("host_id", String(64), nullable=True),
    Column("topic", Text, nullable=True),
    Column("type", Integer, nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("start_time", UTCDateTime, nullable=True),
    Column("end_time", UTCDateTime, nullable=True),
    Column("duration", Integer, nullable=True, comment="minutes, as Zoom reports it"),
    Column("inbox_id", BigInteger, nullable=True, comment="the last event that updated the row"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('meeting', 'webinar')", name="kind"),
    Index(None, "zoom_id", "start_time"),
)

followups = Table(
    "followups",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_uuid", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("resource", String(16), nullable=False),
    Column("account_id", String(64), nullable=True),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("rows_stored", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("zm_trackingid", String(200), nullable=True),
    Column("fetched_at", UTCDateTime, nullable=True),
    Column("inbox_id", BigInteger, nullable=True, comment="the event that asked for it"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column(
        "claimed_by", String(100), nullable=True, comment="host:pid of the last worker to run it"
    ),
    *_lease(),
    Column("app", String(64), nullable=True, comment="the app whose secret verified its event"),
    UniqueConstraint("instance_uuid", "resource"),
    CheckConstraint(
        "status IN ('pending', 'running', 'done', 'failed', 'not_applicable')", name="status"
    ),
    CheckConstraint(
        "resource IN ('participants', 'absentees', 'qa', 'polls', 'registrants', 'report', "
        "'details', 'recordings')",
        name="resource",
    ),
    Index(None, "status", "next_attempt_at"),
    Index(None, "status", "lease_until"),
)

participants = Table(
    "participants",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("instance_uuid", String(64), nullable=False),
    Column("row_key", String(64), nullable=False, comment="hash of id, user_id, name, join_time"),
    Column(
        "id", String(64), nullable=True, comment="Zoom's participant `id` (user id; '' for guests)"
    ),
    Column("user_id", String(64), nullable=True),
    Column("registrant_id", String(64), nullable=True),
    Column("name", Text, nullable=True),
    Column("user_email", Text, nullable=True),
    Column("join_time", UTCDateTime, nullable=True),
    Column("leave_time", UTCDateTime, nullable=True),
    Column("duration", Integer, nullable=True, comment="seconds"),
    Column("status", String(32), nullable=True),
    Column("failover", Boolean, nullable=True),
    Column("internal_user", Boolean, nullable=True),
    *_traced(),
    UniqueConstraint("instance_uuid", "row_key"),
)

absentees = Table(
    "absentees",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("instance_uuid", String(64), nullable=False),
    Column("row_key", String(64), nullable=False, comment="hash of id and email"),
    Column("id", String(64), nullable=True, comment="Zoom's registrant id"),
    Column("email", Text, nullable=True),
    Column("first_name", Text, nullable=True),
    Column("last_name", Text, nullable=True),
    Column("status", String(32), nullable=True),
    Column("create_time", UTCDateTime, nullable=True),
    Column("data", Text, nullable=False, comment="the whole Zoom record, JSON"),
    *_traced(),
    UniqueConstraint("instance_uuid", "row_key"),
)

qa_entries = Table(
    "qa_entries",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("instance_uuid", String(64), nullable=False),
    Column("row_key", String(64), nullable=False, comment="hash of asker and position"),
    Column("name", Text, nullable=True),
    Column("email", Text, nullable=True),
    Column("question", Text, nullable=True),
    Column("answer", Text, nullable=True),
    Column("data", Text, nullable=False, comment="Zoom's question_details entry, JSON"),
    *_traced(),
    UniqueConstraint("instance_uuid", "row_key"),
)

poll_answers = Table(
    "poll_answers",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("instance_uuid", String(64), nullable=False),
    Column("row_key", String(64), nullable=False, comment="hash of respondent, poll, question"),
    Column("name", Text, nullable=True),
    Column("email", Text, nullable=True),
    Column("polling_id", String(64), nullable=True),
    Column("question", Text, nullable=True),
    Column("answer", Text, nullable=True),
    Column("date_time", UTCDateTime, nullable=True),
    *_traced(),
    UniqueConstraint("instance_uuid", "row_key"),
)

registrants = Table(
    "registrants",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("webinar_id", BigInteger, nullable=False),
    Column("id", String(64), nullable=False, comment="Zoom's registrant id"),
    Column("email", Text, nullable=True),
    Column("first_name", Text, nullable=True),
    Column("last_name", Text, nullable=True),
    Column("status", String(16), nullable=True),
    Column("join_url", Text, nullable=True),
    Column("event_ts", BigInteger, nullable=True, comment="of the event that set `status`"),
    Column("data", Text, nullable=False, comment="the registrant object, JSON"),
    Column("inbox_id", BigInteger, nullable=True),
    # Set by the registrants follow-up (Zoom's listing), kept when a live event updates the row.
    Column("create_time", UTCDateTime, nullable=True, comment="when they registered, per Zoom"),
    Column("listed_at", UTCDateTime, nullable=True, comment="Zoom's listing last showed them"),
    Column("followup_id", BigInteger, nullable=True, comment="followups.id of that listing"),
    UniqueConstraint("webinar_id", "id"),
)

#: One row per registrant and custom question (`custom_questions` of the registrant object).
registrant_answers = Table(
    "registrant_answers",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("webinar_id", BigInteger, nullable=False),
    Column("registrant_id", String(64), nullable=False, comment="registrants.id"),
    Column("title", String(300), nullable=False, comment="the question, as the form asks it"),
    Column("value", Text, nullable=True, comment="the registrant's answer"),
    UniqueConstraint("webinar_id", "registrant_id", "title"),
    Index(None, "webinar_id", "title"),
)

report_participants = Table(
    "report_participants",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("instance_uuid", String(64), nullable=False),
    Column("row_key", String(64), nullable=False, comment="hash of ids, name, email, join_time"),
    Column("id", String(64), nullable=True, comment="Zoom's participant `id` ('' for guests)"),
    Column("user_id", String(64), nullable=True),
    Column("participant_user_id", String(64), nullable=True),
    Column("registrant_id", String(64), nullable=True),
    Column("name", Text, nullable=True),
    Column("user_email", Text, nullable=True),
    Column("join_time", UTCDateTime, nullable=True),
    Column("leave_time", UTCDateTime, nullable=True),
    Column("duration", Integer, nullable=True, comment="seconds"),
    Column("status", String(32), nullable=True, comment="in_meeting or in_waiting_room"),
    Column("failover", Boolean, nullable=True),
    Column("customer_key", String(64), nullable=True, comment="the SDK's customer key"),
    Column("bo_mtg_id", String(64), nullable=True, comment="breakout room meeting id"),
    *_traced(),
    UniqueConstraint("instance_uuid", "row_key"),
)

instance_details = Table(
    "instance_details",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("instance_uuid", String(64), nullable=False, unique=True),
    Column("zoom_id", BigInteger, nullable=True, comment="the meeting or webinar number"),
    Column("topic", Text, nullable=True),
    Column("type", Integer, nullable=True),
    Column("host_name", Text, nullable=True, comment="Zoom's `user_name`"),
    Column("host_email", Text, nullable=True, comment="Zoom's `user_email`"),
    Column("dept", Text, nullable=True, comment="the host's department"),
    Column("start_time", UTCDateTime, nullable=True),
    Column("end_time", UTCDateTime, nullable=True),
    Column("duration", Integer, nullable=True, comment="minutes"),
    Column("total_minutes", Integer, nullable=True, comment="all participants' minutes"),
    Column("participants_count", Integer, nullable=True),
    Column("custom_keys", Text, nullable=True, comment="JSON list of {key, value}"),
    Column("tracking_fields", Text, nullable=True, comment="JSON list of {field, value}"),
    Column("data", Text, nullable=False, comment="the whole Zoom report, JSON"),
    *_traced(),
)

RECORDING_DOWNLOADS = ("pending", "stored", "failed")

recordings = Table(
    "recordings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("uuid", String(64), nullable=False, unique=True, comment="the recorded instance"),
    Column("zoom_id", BigInteger, nullable=True, comment="the meeting or webinar number"),
    Column("account_id", String(64), nullable=True),
    Column("host_id", String(64), nullable=True),
    Column("host_email", Text, nullable=True),
    Column("topic", Text, nullable=True),
    Column("type", Integer, nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("start_time", UTCDateTime, nullable=True),
    Column("duration", Integer, nullable=True, comment="minutes, as Zoom reports it"),
    Column("total_size", BigInteger, nullable=True, comment="bytes, all files"),
    Column("recording_count", Integer, nullable=True),
    Column("share_url", Text, nullable=True),
    Column("download_token", Text, nullable=True, comment="the freshest one Zoom sent (24 h)"),
    Column("event_ts", BigInteger, nullable=True, comment="of the event that set the token"),
    Column("inbox_id", BigInteger, nullable=True, comment="the last event that updated the row"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "host_id", "start_time"),
    Index(None, "zoom_id", "start_time"),
)

recording_files = Table(
    "recording_files",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True, comment="Zoom's recording file id"),
    Column("recording_uuid", String(64), nullable=False, comment="recordings.uuid"),
    Column("participant_audio", Boolean, nullable=False, comment="a per-participant audio file"),
    Column("recording_type", String(64), nullable=True),
    Column("file_type", String(32), nullable=True),
    Column("file_extension", String(16), nullable=True),
    Column("file_name", Text, nullable=True),
    Column("file_size", BigInteger, nullable=True, comment="bytes, as Zoom reports it"),
    Column("checksum", String(128), nullable=True, comment="if Zoom sent one"),
    Column("play_url", Text, nullable=True),
    Column("download_url", Text, nullable=True),
    Column("recording_start", UTCDateTime, nullable=True),
    Column("recording_end", UTCDateTime, nullable=True),
    Column("status", String(32), nullable=True, comment="Zoom's file status"),
    Column("event_ts", BigInteger, nullable=True, comment="of the event that last set the row"),
    Column("inbox_id", BigInteger, nullable=True),
    # Local copy; webhook redeliveries never touch these columns.
    Column("download_state", String(16), nullable=True, comment="pending, stored or failed"),
    Column("storage_uri", Text, nullable=True),
    Column("bytes_stored", BigInteger, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("verified", Boolean, nullable=True, comment="size (and checksum) matched Zoom's"),
    Column("downloaded_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "download_state IS NULL OR download_state IN ('pending', 'stored', 'failed')",
        name="download_state",
    ),
    Index(None, "recording_uuid"),
)

participant_events = Table(
    "participant_events",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("inbox_id", BigInteger, nullable=False, unique=True),
    Column("instance_uuid", String(64), nullable=False),
    Column("event", String(64), nullable=False),
    Column("action", String(8), nullable=False, comment="joined or left"),
    Column("event_ts", BigInteger, nullable=True),
    Column("at", UTCDateTime, nullable=True, comment="join_time or leave_time"),
    Column("id", String(64), nullable=True, comment="participant.id"),
    Column("user_id", String(64), nullable=True),
    Column("participant_uuid", String(64), nullable=True),
    Column("user_name", Text, nullable=True),
    Column("email", Text, nullable=True),
    Column("leave_reason", Text, nullable=True),
    CheckConstraint("action IN ('joined', 'left')", name="action"),
    Index(None, "instance_uuid", "at"),
)

zoom_tokens = Table(
    "zoom_tokens",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("access_token", Text, nullable=True),
    Column("expires_at", Float, nullable=True, comment="epoch seconds"),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", Float, nullable=True, comment="epoch seconds"),
)

zoom_api_usage = Table(
    "zoom_api_usage",
    metadata,
    Column("day", Date, primary_key=True, comment="UTC day"),
    Column("account_id", String(64), primary_key=True),
    Column("category", String(32), primary_key=True, comment="Zoom's rate-limit category"),
    Column("calls", Integer, nullable=False, server_default="0"),
)

zoom_rate_state = Table(
    "zoom_rate_state",
    metadata,
    Column("key", String(200), primary_key=True, comment="account, category or daily cap"),
    Column("state", Text, nullable=False, comment="the governor's record, JSON"),
    Column("expires_at", Float, nullable=False, comment="epoch seconds; then it may be dropped"),
)

# Write-side actions (service.actions): one audit row per action, which is also its job.
ACTION_STATUSES = ("pending", "running", "done", "dry_run", "failed")

actions = Table(
    "actions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app", String(64), nullable=False, comment="the app whose rule asked for it"),
    Column("account_id", String(64), nullable=True),
    Column("inbox_id", BigInteger, nullable=False, comment="webhook_events.id that triggered it"),
    Column("kind", String(32), nullable=False, comment="registrant.approve, meeting.schedule_for…"),
    Column("target", Text, nullable=False, comment="what it acts on, for people"),
    Column("method", String(8), nullable=False),
    Column("path", Text, nullable=False, comment="below the API base URL"),
    Column("request", Text, nullable=False, comment="the JSON body sent (or that would be)"),
    Column("dry_run", Boolean, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("zoom_status", Integer, nullable=True, comment="Zoom's HTTP status"),
    Column("zoom_code", Integer, nullable=True, comment="Zoom's error code"),
    Column("zoom_message", Text, nullable=True),
    Column("fix", Text, nullable=True, comment="what an operator must do, for a refusal"),
    Column("zm_trackingid", String(200), nullable=True),
    Column("requested_by", String(200), nullable=False, comment="the rule, or ops:<user>"),
    Column("reason", Text, nullable=True, comment="why the rule asked"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("claimed_by", String(100), nullable=True, comment="host:pid of the last worker"),
    *_lease(),
    UniqueConstraint("inbox_id", "kind"),
    CheckConstraint("status IN ('pending', 'running', 'done', 'dry_run', 'failed')", name="status"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "status", "lease_until"),
    Index(None, "app", "created_at"),
)


# The WebSocket transport (`zoomhooks listen`): one row per subscription, held by one listener
# at a time, and the windows it was disconnected, each reconciled against Zoom's past instances.
GAP_STATUSES = ("pending", "done", "failed")

websocket_subscriptions = Table(
    "websocket_subscriptions",
    metadata,
    Column("subscription_id", String(128), primary_key=True),
    Column("app", String(64), nullable=False, comment="the configured Zoom app it belongs to"),
    Column("lease_owner", String(100), nullable=True, comment="the listener holding it"),
    Column("lease_until", UTCDateTime, nullable=True, comment="until when, unless renewed"),
    Column("connected_at", UTCDateTime, nullable=True, comment="since when its socket is open"),
    Column(
        "alive_at",
        UTCDateTime,
        nullable=True,
        comment="when a listener last knew its socket worked: a gap starts here",
    ),
    Column("updated_at", UTCDateTime, nullable=False),
)

websocket_gaps = Table(
    "websocket_gaps",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("subscription_id", String(128), nullable=False),
    Column("app", String(64), nullable=False),
    Column("account_id", String(64), nullable=True),
    Column("gap_from", UTCDateTime, nullable=False, comment="the socket was last known alive"),
    Column("gap_to", UTCDateTime, nullable=False, comment="a socket was open again"),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("due_at", UTCDateTime, nullable=False, comment="the next reconcile attempt"),
    Column("backfilled", Integer, nullable=True, comment="instances found without follow-ups"),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('pending', 'done', 'failed')", name="status"),
    Index(None, "status", "due_at"),
)


# Recording downloads: one job per recording file, on the lease state machine of the follow-ups.
# `recording_files.download_state` … `last_error` summarise the job for queries; this row is
# the job itself (attempts, lease, progress).
recording_downloads = Table(
    "recording_downloads",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("file_id", String(64), nullable=False, unique=True, comment="recording_files.id"),
    Column("recording_uuid", String(64), nullable=False, comment="recordings.uuid"),
    Column("app", String(64), nullable=True, comment="the app that verified the event"),
    Column("account_id", String(64), nullable=True),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("storage", Text, nullable=False, comment="the storage URL (no credentials)"),
    Column("storage_key", Text, nullable=False, comment="the object's key below it"),
    Column("expected_size", BigInteger, nullable=True, comment="bytes, Zoom's file_size"),
    Column("bytes_stored", BigInteger, nullable=False, server_default="0"),
    Column("verified_size", BigInteger, nullable=True, comment="the size checked at the end"),
    Column("auth", String(16), nullable=True, comment="download_token or oauth, last used"),
    Column("last_error", Text, nullable=True),
    Column("inbox_id", BigInteger, nullable=True, comment="the event that (re)queued it"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("claimed_by", String(100), nullable=True, comment="host:pid of the last worker"),
    *_lease(),
    CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name="status"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "status", "lease_until"),
    Index(None, "recording_uuid"),
)
