"""Handlers for the events zoomhooks acts on: live state now, follow-up jobs for later."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from service.processing.handlers import Context, Handler, Outcome
from service.processing.shape import (
    REGISTRATION_STATUS,
    instance_row,
    kind_of,
    participant_event_row,
    registrant_row,
)
from service.processing.shape_recordings import (
    RECORDING_EVENTS,
    recording_file_rows,
    recording_row,
)
from service.processing.shape_reports import answer_rows
from service.processing.writes import Schedule
from service.storage import records, registrants
from service.storage.followups import Followups, NewFollowups
from service.storage.types import utcnow

log = logging.getLogger(__name__)

#: What each kind of instance fetches once it has ended.
FOLLOWUP_RESOURCES = {
    "webinar": ("participants", "absentees", "qa", "polls", "registrants", "report", "details"),
    "meeting": ("participants", "qa", "polls", "report", "details"),
}
#: The jobs that need the report scope and a paid plan, which not every account has.
REPORT_RESOURCES = frozenset({"report", "details"})

#: Follow-up resources by kind of instance.
Resources = Mapping[str, tuple[str, ...]]


def followup_resources(*, reports: bool) -> Resources:
    """What each kind fetches; without `reports`, none of the report jobs (for accounts that
    have no report scope or paid plan, whose report jobs would only ever fail)."""
    if reports:
        return FOLLOWUP_RESOURCES
    return {
        kind: tuple(r for r in resources if r not in REPORT_RESOURCES)
        for kind, resources in FOLLOWUP_RESOURCES.items()
    }


class LiveHandlers:
    def __init__(
        self,
        followups: Followups,
        schedule: Schedule,
        *,
        followup_delay: timedelta,
        resources: Resources = FOLLOWUP_RESOURCES,
    ) -> None:
        self.followups = followups
        self.schedule = schedule
        self.followup_delay = followup_delay
        self.resources = resources

    def handlers(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {}
        for kind in FOLLOWUP_RESOURCES:
            table[f"{kind}.started"] = self.instance
            table[f"{kind}.ended"] = self.ended
            table[f"{kind}.participant_joined"] = self.participant
            table[f"{kind}.participant_left"] = self.participant
        for name in REGISTRATION_STATUS:
            table[name] = self.registrant
        for name in RECORDING_EVENTS:
            table[name] = self.recording
        return table

    def instance(self, ctx: Context) -> Outcome:
        row = instance_row(ctx.event)
        if row is None:
            log.warning("inbox %s: %s without an instance uuid", ctx.inbox_id, ctx.event.name)
            return "ignored"
        ctx.writes.instance(row, ctx.inbox_id)
        return "done"

    def ended(self, ctx: Context) -> Outcome:
        if self.instance(ctx) == "ignored":
            return "ignored"
        kind = kind_of(ctx.event.name)
        assert kind is not None
        request = NewFollowups(
            instance_uuid=str(ctx.event.object["uuid"]),
            kind=kind,
            resources=self.resources[kind],
            account_id=ctx.event.account_id,
            inbox_id=ctx.inbox_id,
            app=ctx.app,
            first_attempt_at=utcnow() + self.followup_delay,
        )
        ctx.writes.followups(self.followups, request, self.schedule)
        return "done"

    def participant(self, ctx: Context) -> Outcome:
        row = participant_event_row(ctx.event, ctx.inbox_id)
        if row is None:
            log.warning("inbox %s: %s without participant or uuid", ctx.inbox_id, ctx.event.name)
            return "ignored"
        instance = instance_row(ctx.event)
        if instance is not None:
            # Only what a participant event knows; coalescing keeps the rest of the instance.
            ctx.writes.instance({**instance, "end_time": None}, ctx.inbox_id)
        ctx.writes.timeline(row)
        return "done"

    def registrant(self, ctx: Context) -> Outcome:
        row = registrant_row(ctx.event, ctx.inbox_id)
        if row is None:
            log.warning("inbox %s: %s without registrant", ctx.inbox_id, ctx.event.name)
            return "ignored"
        records.upsert_registrant(ctx.conn, row)
        registrant = ctx.event.object["registrant"]
        registrants.upsert_answers(ctx.conn, answer_rows(row["webinar_id"], row["id"], registrant))
        return "done"

    def recording(self, ctx: Context) -> Outcome:
        row = recording_row(ctx.event, ctx.inbox_id)
        if row is None:
            log.warning("inbox %s: %s without a recording uuid", ctx.inbox_id, ctx.event.name)
            return "ignored"
        ctx.writes.recording(row, list(recording_file_rows(ctx.event, ctx.inbox_id)))
        return "done"
