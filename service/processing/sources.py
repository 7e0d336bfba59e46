"""What each follow-up fetches: the Zoom calls of a (kind, resource) and how their pages are
shaped and stored. The runner (`service.processing.followup`) only walks `calls` page by page.

Most resources are one listing of the instance (by UUID) into a table keyed by
(instance_uuid, row_key). Registrants are three listings of the webinar *number*, one per
status, merged into `registrants` (see `service.processing.shape_reports`). Recordings (backfill
only) are the instance's cloud recording, merged into the tables the recording webhooks fill.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from service.processing import shape, shape_recordings, shape_reports
from service.processing.recordings import DownloadHandlers
from service.storage import records
from service.storage import registrants as stored_registrants
from service.zoom import Endpoint, ZoomAPIError
from service.zoom import endpoints as ep

Records = list[dict[str, Any]]
Shape = Callable[[Records], Iterator[shape.Row]]


@dataclass(frozen=True, slots=True)
class Target:
    """The job's instance, as the calls and the stores need it."""

    instance_uuid: str
    #: The meeting or webinar number, for sources that need it (else None).
    zoom_id: int | None
    followup_id: int
    inbox_id: int | None
    #: When this run started: the snapshot time of what it lists.
    now: datetime
    #: The account whose credentials ask, and the app whose event asked (None: an operator).
    account_id: str | None = None
    app: str | None = None
    #: Run once the page's transaction has committed (e.g. enqueue the downloads it queued);
    #: the runner empties it at every page.
    after_commit: list[Callable[[], None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Call:
    """One listing: the path ID and query it is asked with."""

    path_id: int | str
    query: Mapping[str, str] = field(default_factory=dict)


class MissingNumber(Exception):
    """The source lists by number and nothing here knows the instance's number."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """One listing of the instance into a table of `records.RESOURCE_TABLES`."""

    resource: str
    endpoint: Endpoint
    shape: Shape
    query: Mapping[str, str] = field(default_factory=dict)
    needs_number = False

    def calls(self, target: Target) -> list[Call]:
        return [Call(target.instance_uuid, self.query)]

    def absent(self, error: ZoomAPIError) -> bool:
        """Whether `error` means there is nothing to fetch (not a failure, not a wait)."""
        return False

    def store(self, conn: Connection, page: Records, call: Call, target: Target) -> int:
        rows = list(self.shape(page))
        stored = records.upsert_fetched(
            conn,
            self.resource,
            rows,
            instance_uuid=target.instance_uuid,
            followup_id=target.followup_id,
            inbox_id=target.inbox_id,
        )
        if self.resource == "details":
            for row in rows:
                stored_registrants.fill_instance(conn, target.instance_uuid, row)
        return stored


@dataclass(frozen=True, slots=True)
class Registrants:
    """Every registrant of the webinar, one listing per status (approved, pending, denied)."""

    endpoint: Endpoint = ep.WEBINAR_REGISTRANTS
    statuses: tuple[str, ...] = ep.REGISTRANT_STATUSES
    needs_number = True

    def calls(self, target: Target) -> list[Call]:
        if target.zoom_id is None:
            raise MissingNumber(
                f"the webinar number of instance {target.instance_uuid} is unknown here, and "
                "Zoom lists registrants by number: backfill it by number (zoomhooks backfill "
                "webinar NUMBER) or wait for its report details"
            )
        return [Call(target.zoom_id, {"status": status}) for status in self.statuses]

    def absent(self, error: ZoomAPIError) -> bool:
        return False

    def store(self, conn: Connection, page: Records, call: Call, target: Target) -> int:
        assert target.zoom_id is not None
        rows = list(
            shape_reports.listed_registrant_rows(
                page, webinar_id=target.zoom_id, status=call.query["status"], listed_at=target.now
            )
        )
        answers = _answers(target.zoom_id, page)
        return stored_registrants.store_listed(conn, rows, answers, followup_id=target.followup_id)


def _answers(webinar_id: int, page: Iterable[dict[str, Any]]) -> list[shape.Row]:
    found: list[shape.Row] = []
    for r in page:
        registrant_id = shape.text(r.get("id"), 64)
        if registrant_id:
            found += shape_reports.answer_rows(webinar_id, registrant_id, r)
    return found


@dataclass(frozen=True, slots=True)
class Recordings:
    """The instance's cloud recording, meetings and webinars alike (one endpoint takes both).

    Stored as the recording webhooks store theirs (`records.upsert_recording`): the fetch time
    stands for the event's `event_ts`, so the newer of a webhook and a fetch wins, and a field
    one lacks keeps the other's value. With `downloads` (recording storage configured), the
    wanted files are queued for download exactly as a webhook's are. An instance without a
    recording (404, code 3301) stores nothing and is done.
    """

    downloads: DownloadHandlers | None = None
    endpoint: Endpoint = ep.MEETING_RECORDINGS
    needs_number = False

    def calls(self, target: Target) -> list[Call]:
        return [Call(target.instance_uuid, ep.RECORDING_TOKEN_QUERY)]

    def absent(self, error: ZoomAPIError) -> bool:
        return error.status == 404 or error.zoom_code == NO_RECORDING_CODE

    def store(self, conn: Connection, page: Records, call: Call, target: Target) -> int:
        at_ms = int(target.now.timestamp() * 1000)
        stored = 0
        for body in page:
            row = shape_recordings.fetched_recording_row(body, target.account_id, at_ms)
            if row is None:
                continue
            files = list(shape_recordings.fetched_recording_file_rows(body, at_ms))
            records.upsert_recording(conn, row, files)
            if self.downloads is not None:
                self.downloads.queue(
                    conn, row, files, target.after_commit, app=target.app, inbox_id=None
                )
            stored += 1 + len(files)
        return stored


#: Zoom's "There is no recording for this meeting." (404).
NO_RECORDING_CODE = 3301

Source = Fetched | Registrants | Recordings

#: (kind, resource) → what its follow-up fetches.
SOURCES: dict[tuple[str, str], Source] = {
    ("webinar", "participants"): Fetched(
        "participants", ep.PAST_WEBINAR_PARTICIPANTS, shape.participant_rows
    ),
    ("webinar", "absentees"): Fetched("absentees", ep.PAST_WEBINAR_ABSENTEES, shape.absentee_rows),
    ("webinar", "qa"): Fetched("qa", ep.PAST_WEBINAR_QA, shape.qa_rows),
    ("webinar", "polls"): Fetched("polls", ep.PAST_WEBINAR_POLLS, shape.poll_rows),
    ("webinar", "registrants"): Registrants(),
    ("webinar", "report"): Fetched(
        "report",
        ep.REPORT_WEBINAR_PARTICIPANTS,
        shape_reports.report_participant_rows,
        ep.REPORT_INCLUDE_FIELDS,
    ),
    ("webinar", "details"): Fetched("details", ep.REPORT_WEBINAR, shape_reports.details_rows),
    ("meeting", "participants"): Fetched(
        "participants", ep.PAST_MEETING_PARTICIPANTS, shape.participant_rows
    ),
    ("meeting", "qa"): Fetched("qa", ep.PAST_MEETING_QA, shape.qa_rows),
    ("meeting", "polls"): Fetched("polls", ep.PAST_MEETING_POLLS, shape.poll_rows),
    ("meeting", "report"): Fetched(
        "report",
        ep.REPORT_MEETING_PARTICIPANTS,
        shape_reports.report_participant_rows,
        ep.REPORT_INCLUDE_FIELDS,
    ),
    ("meeting", "details"): Fetched("details", ep.REPORT_MEETING, shape_reports.details_rows),
    ("webinar", "recordings"): Recordings(),
    ("meeting", "recordings"): Recordings(),
}


def with_downloads(downloads: DownloadHandlers | None) -> dict[tuple[str, str], Source]:
    """SOURCES, the recordings also queueing their downloads when storage is configured."""
    if downloads is None:
        return dict(SOURCES)
    return {
        key: Recordings(downloads) if isinstance(source, Recordings) else source
        for key, source in SOURCES.items()
    }
