"""views for ops: attendance_summary, participant_engagement, followup_health

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain SQL that SQLite and PostgreSQL both run. A person is their email, or their name when
# Zoom has no email (guests); `1.0 *` keeps divisions exact (numeric on PostgreSQL).
VIEWS = {
    "attendance_summary": """
WITH people AS (
    SELECT instance_uuid,
           count(DISTINCT coalesce(nullif(user_email, ''), name)) AS attended,
           sum(duration) AS seconds
    FROM participants
    GROUP BY instance_uuid
), missing AS (
    SELECT instance_uuid, count(*) AS absent FROM absentees GROUP BY instance_uuid
), registered AS (
    SELECT webinar_id, count(*) AS registrants
    FROM registrants
    WHERE status = 'approved'
    GROUP BY webinar_id
)
SELECT i.uuid AS instance_uuid,
       i.zoom_id,
       i.kind,
       i.topic,
       i.start_time,
       i.end_time,
       coalesce(r.registrants, 0) AS registrants,
       coalesce(p.attended, 0) AS attended,
       coalesce(m.absent, 0) AS absent,
       CASE WHEN coalesce(p.attended, 0) + coalesce(m.absent, 0) > 0
            THEN round(1.0 * coalesce(p.attended, 0)
                       / (coalesce(p.attended, 0) + coalesce(m.absent, 0)), 3)
       END AS attendance_rate,
       CASE WHEN p.attended > 0 THEN round(1.0 * p.seconds / 60 / p.attended, 1) END
           AS avg_minutes
FROM instances i
LEFT JOIN people p ON p.instance_uuid = i.uuid
LEFT JOIN missing m ON m.instance_uuid = i.uuid
LEFT JOIN registered r ON i.kind = 'webinar' AND r.webinar_id = i.zoom_id
""",
    "participant_engagement": """
WITH stints AS (
    SELECT instance_uuid,
           coalesce(nullif(user_email, ''), name) AS person,
           max(name) AS name,
           max(user_email) AS user_email,
           count(*) AS stints,
           sum(duration) AS seconds,
           min(join_time) AS first_join,
           max(leave_time) AS last_leave
    FROM participants
    GROUP BY instance_uuid, coalesce(nullif(user_email, ''), name)
), asked AS (
    SELECT instance_uuid, coalesce(nullif(email, ''), name) AS person, count(*) AS questions
    FROM qa_entries
    GROUP BY instance_uuid, coalesce(nullif(email, ''), name)
), voted AS (
    SELECT instance_uuid, coalesce(nullif(email, ''), name) AS person, count(*) AS poll_answers
    FROM poll_answers
    GROUP BY instance_uuid, coalesce(nullif(email, ''), name)
)
SELECT s.instance_uuid,
       s.person,
       s.name,
       s.user_email,
       s.stints,
       round(1.0 * s.seconds / 60, 1) AS minutes,
       s.first_join,
       s.last_leave,
       coalesce(a.questions, 0) AS questions,
       coalesce(v.poll_answers, 0) AS poll_answers
FROM stints s
LEFT JOIN asked a ON a.instance_uuid = s.instance_uuid AND a.person = s.person
LEFT JOIN voted v ON v.instance_uuid = s.instance_uuid AND v.person = s.person
""",
    "followup_health": """
SELECT resource,
       status,
       count(*) AS jobs,
       sum(coalesce(rows_stored, 0)) AS rows_stored,
       min(created_at) AS oldest_created_at,
       max(fetched_at) AS last_fetched_at,
       min(CASE WHEN status = 'pending' THEN next_attempt_at END) AS next_attempt_at,
       max(attempts) AS max_attempts,
       max(last_error) AS a_last_error
FROM followups
GROUP BY resource, status
""",
}


def upgrade() -> None:
    for name, sql in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {sql}")


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
