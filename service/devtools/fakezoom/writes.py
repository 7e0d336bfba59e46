"""The write operations the fake serves, with state tests can read.

- `PUT /webinars/{webinarId}/registrants/status` (`webinarRegistrantStatus`): approve, deny or
  cancel registrants (by `id` or `email`); `registrant_status` shows the result.
- `PATCH /meetings/{meetingId}` (`meetingUpdate`): `schedule_for` moves the meeting to that
  user; `meeting_host` shows it. Other fields are validated and kept in `meeting_updates`.

Bodies are validated against the operation's request schema in the spec (a violation answers
Zoom's 400 code 300 "Validation Failed." with the problems listed); success is Zoom's 204 with no
body. Any numeric ID is accepted: the fake's world holds past instances, and these operations
act on scheduled ones, which tests name freely.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from .schema import validate
from .spec import Match, Spec

#: Zoom's answer to a body that breaks the request schema.
VALIDATION_CODE = 300
REGISTRANT_STATUS = {"approve": "approved", "deny": "denied", "cancel": "cancelled"}

Reply = tuple[int, dict[str, Any] | None]
WriteHandler = Callable[[Match, Any], Reply]


class Writes:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        #: (webinar id, registrant id or email) → approved | denied | cancelled.
        self.registrant_status: dict[tuple[int, str], str] = {}
        #: meeting id → the user (email or id) it was scheduled for.
        self.meeting_host: dict[int, str] = {}
        self.meeting_updates: dict[int, dict[str, Any]] = {}
        self._handlers: dict[str, WriteHandler] = {
            "webinarRegistrantStatus": self._registrant_status,
            "meetingUpdate": self._meeting_update,
        }

    def handler(self, operation_id: str) -> WriteHandler | None:
        return self._handlers.get(operation_id)

    def check_body(self, operation_id: str, raw: bytes) -> tuple[Any, dict[str, Any] | None]:
        """(the parsed body, None), or (None, Zoom's 400 body) when it breaks the spec."""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return None, {
                "code": VALIDATION_CODE,
                "message": "Request Body should be a valid JSON object.",
            }
        schema = _request_schema(self.spec.document, operation_id)
        problems = validate(schema, body) if schema is not None else []
        if problems:
            return None, {
                "code": VALIDATION_CODE,
                "message": "Validation Failed.",
                "errors": [{"field": p.split(":")[0], "message": p} for p in problems],
            }
        return body, None

    def _registrant_status(self, match: Match, body: Mapping[str, Any]) -> Reply:
        webinar_id = int(match.raw_params["webinarId"])
        status = REGISTRANT_STATUS[body["action"]]
        with self._lock:
            for registrant in body.get("registrants", ()):
                for key in ("id", "email"):
                    if registrant.get(key):
                        self.registrant_status[(webinar_id, str(registrant[key]))] = status
        return 204, None

    def _meeting_update(self, match: Match, body: Mapping[str, Any]) -> Reply:
        meeting_id = int(match.raw_params["meetingId"])
        with self._lock:
            self.meeting_updates.setdefault(meeting_id, {}).update(body)
            if body.get("schedule_for"):
                self.meeting_host[meeting_id] = str(body["schedule_for"])
        return 204, None


def _request_schema(document: Mapping[str, Any], operation_id: str) -> Mapping[str, Any] | None:
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, Mapping) and operation.get("operationId") == operation_id:
                content = operation.get("requestBody", {}).get("content", {})
                schema = content.get("application/json", {}).get("schema")
                return schema if isinstance(schema, Mapping) else None
    return None
