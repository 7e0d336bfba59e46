"""The past-data operations the fake serves, over a `World`.

`past_webinars/{webinarId}/participants|absentees|qa|polls|instances` and
`past_meetings/{meetingId}[/participants|qa|polls|instances]`. The path ID is a numeric ID (its
latest instance) or an instance UUID, decoded as `encoding.py` describes. Participants and
absentees paginate with `page_size` (default 30) and `next_page_token` (see `tokens.py`);
`page_count`, `page_size` and `total_records` describe the whole listing, `next_page_token` is
`""` on the last page. Absentees of a webinar without registration answer Zoom's 400 code 3000.
Also `webinars/{webinarId}/registrants` (by `status`, see `reports.py`) and the reports
`report/webinars|meetings/{id}[/participants]`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import errors, reports
from .encoding import decode_path_id
from .errors import Kind, ZoomError
from .spec import Match
from .tokens import PageTokens
from .world import Instance, World, zoom_time

#: Zoom's `page_size` when the request gives none.
DEFAULT_PAGE_SIZE = 30

Reply = tuple[int, dict[str, Any]]
Handler = Callable[[Match], Reply]


class PastData:
    """Answers the past-data operations by operationId (`handler`)."""

    def __init__(self, world: World, page_tokens: PageTokens) -> None:
        self.world = world
        self.page_tokens = page_tokens
        self._handlers: dict[str, Handler] = {
            "listWebinarParticipants": lambda m: self._participants("webinar", m),
            "webinarAbsentees": self._absentees,
            "listPastWebinarQA": lambda m: self._qa("webinar", m),
            "listPastWebinarPollResults": lambda m: self._polls("webinar", m),
            "pastWebinars": lambda m: self._instances("webinar", m),
            "pastMeetingDetails": self._meeting_details,
            "pastMeetingParticipants": lambda m: self._participants("meeting", m),
            "listPastMeetingQA": lambda m: self._qa("meeting", m),
            "listPastMeetingPolls": lambda m: self._polls("meeting", m),
            "pastMeetings": lambda m: self._instances("meeting", m),
            "webinarRegistrants": self._registrants,
            "reportWebinarDetails": lambda m: self._report_details("webinar", m),
            "reportWebinarParticipants": lambda m: self._report_participants("webinar", m),
            "reportMeetingDetails": lambda m: self._report_details("meeting", m),
            "reportMeetingParticipants": lambda m: self._report_participants("meeting", m),
        }

    def handler(self, operation_id: str) -> Handler | None:
        return self._handlers.get(operation_id)

    def _resolve(self, kind: Kind, match: Match, name: str) -> Instance | Reply:
        raw = match.raw_params[name]
        try:
            path_id = decode_path_id(raw)
        except UnicodeDecodeError:
            return _error(errors.not_found(kind, raw))
        if path_id.under_encoded:
            hint = "a UUID that begins with '/' or contains '//' must be URL-encoded twice"
            return _error(errors.not_found(kind, path_id.value), hint)
        inst = self.world.lookup(kind, path_id.value)
        if inst is None:
            return _error(errors.not_found(kind, path_id.value))
        if inst.too_old:
            return _error(errors.too_old(kind))
        return inst

    def _paginate(
        self,
        match: Match,
        inst: Instance,
        total: int,
        rows: Callable[[int, int], list[dict[str, Any]]],
        key: str,
        listing: str = "",
    ) -> Reply:
        page_size = int(match.query.get("page_size", DEFAULT_PAGE_SIZE))
        if page_size < 1:
            return errors.spec_violation(
                f"page_size={page_size} must be >= 1", reason="bad_query_value"
            )
        # A token is good for the listing it came from only (one status of the registrants).
        scope = f"{match.operation.operation_id}:{inst.uuid}:{listing}"
        offset = 0
        token = str(match.query.get("next_page_token", ""))
        if token:
            resolved = self.page_tokens.resolve(token, scope)
            if resolved is None:
                return _error(errors.PAGE_TOKEN_INVALID)
            offset = resolved
        page = rows(offset, page_size)
        end = offset + len(page)
        body: dict[str, Any] = {
            "page_count": math.ceil(total / page_size),
            "page_size": page_size,
            "total_records": total,
            "next_page_token": self.page_tokens.issue(scope, end) if end < total else "",
        }
        if key == "registrants":
            body["page_number"] = offset // page_size + 1  # deprecated, still sent
        body[key] = page
        return 200, body

    def _participants(self, kind: Kind, match: Match) -> Reply:
        inst = self._resolve(kind, match, "webinarId" if kind == "webinar" else "meetingId")
        if not isinstance(inst, Instance):
            return inst
        return self._paginate(
            match, inst, inst.participants, inst.participants_page, "participants"
        )

    def _absentees(self, match: Match) -> Reply:
        inst = self._resolve("webinar", match, "webinarId")
        if not isinstance(inst, Instance):
            return inst
        if not inst.registration:
            return _error(errors.registration_not_required(inst.uuid))
        return self._paginate(match, inst, inst.absentees, inst.absentees_page, "registrants")

    def _qa(self, kind: Kind, match: Match) -> Reply:
        inst = self._resolve(kind, match, "webinarId" if kind == "webinar" else "meetingId")
        if not isinstance(inst, Instance):
            return inst
        return 200, _summary(inst) | {"questions": inst.qa()}

    def _polls(self, kind: Kind, match: Match) -> Reply:
        inst = self._resolve(kind, match, "webinarId" if kind == "webinar" else "meetingId")
        if not isinstance(inst, Instance):
            return inst
        return 200, _summary(inst) | {"questions": inst.poll_results()}

    def _meeting_details(self, match: Match) -> Reply:
        inst = self._resolve("meeting", match, "meetingId")
        if not isinstance(inst, Instance):
            return inst
        return 200, inst.details()

    def _registrants(self, match: Match) -> Reply:
        inst = self._resolve("webinar", match, "webinarId")
        if not isinstance(inst, Instance):
            return inst
        status = str(match.query.get("status", "approved"))
        total, page = reports.registrants(inst, status)
        return self._paginate(match, inst, total, page, "registrants", status)

    def _report_participants(self, kind: Kind, match: Match) -> Reply:
        inst = self._resolve(kind, match, "webinarId" if kind == "webinar" else "meetingId")
        if not isinstance(inst, Instance):
            return inst
        with_registrant = match.query.get("include_fields") == "registrant_id"
        page = reports.report_page(inst, with_registrant=with_registrant)
        return self._paginate(match, inst, inst.participants, page, "participants")

    def _report_details(self, kind: Kind, match: Match) -> Reply:
        inst = self._resolve(kind, match, "webinarId" if kind == "webinar" else "meetingId")
        if not isinstance(inst, Instance):
            return inst
        return 200, reports.report_details(inst)

    def _instances(self, kind: Kind, match: Match) -> Reply:
        ident = match.raw_params["webinarId" if kind == "webinar" else "meetingId"]
        found = self.world.instances(kind, int(ident))
        if not found:
            return _error(errors.not_found(kind, ident))
        listing = [{"uuid": i.uuid, "start_time": zoom_time(i.start_time)} for i in found]
        return 200, {f"{kind}s": listing}


def _summary(inst: Instance) -> dict[str, Any]:
    return {"id": inst.id, "uuid": inst.uuid, "start_time": zoom_time(inst.start_time)}


def _error(error: ZoomError, hint: str | None = None) -> Reply:
    body = error.body()
    if hint:
        body["fakezoom_hint"] = hint  # not Zoom's: says which client bug this 3001 stands for
    return error.status, body
