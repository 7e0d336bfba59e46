"""Backfill and reconcile: follow-ups for instances whose `*.ended` never reached us.

Zoom drops a delivery after ~85 minutes of retries, and an outage can be longer. Zoom's
past-instances endpoints say which instances exist; an instance with no `followups` rows is
a gap, and backfilling creates its jobs exactly as `*.ended` would have (without an inbox
event, so `inbox_id` is NULL on everything it produces).

Every question goes to Zoom with the credentials of the instance's account: the one the
operator names, else the one webhooks recorded for it, else the deployment's default account.

A backfill also fetches each instance's cloud recording (`recordings`), which live instances
get from the `recording.*` webhooks instead: a dropped webhook or a new deployment has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from service.processing.live import FOLLOWUP_RESOURCES, Resources
from service.processing.shape import zoom_time
from service.storage import records
from service.storage.followups import Followups
from service.storage.models import followups, instances, registrants
from service.storage.types import utcnow
from service.zoom import ZoomAPIError, ZoomClient

KINDS = tuple(FOLLOWUP_RESOURCES)
#: What a backfill fetches beyond the live follow-ups: the webhooks bring these otherwise.
BACKFILL_ONLY = ("recordings",)


def backfill_resources(resources: Resources) -> Resources:
    """The live follow-up resources of each kind, plus BACKFILL_ONLY."""
    return {kind: (*found, *BACKFILL_ONLY) for kind, found in resources.items()}


@dataclass(frozen=True, slots=True)
class PastInstance:
    kind: str
    uuid: str
    zoom_id: int | None = None
    start_time: datetime | None = None
    #: The Zoom account it belongs to; None: the deployment's default account.
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class KnownId:
    """A meeting or webinar number seen here, and the account whose events named it."""

    kind: str
    zoom_id: int
    account_id: str | None


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What comparing Zoom's past instances with the follow-ups here found."""

    #: Instances in the window with no follow-up at all.
    gaps: list[PastInstance]
    #: Numbers Zoom no longer has (404), with the reason.
    skipped: list[tuple[KnownId, str]]
    #: Numbers that could not be checked, with the reason.
    failed: list[tuple[KnownId, str]]


class Backfiller:
    def __init__(
        self,
        engine: Engine,
        jobs: Followups,
        client_for: Callable[[str | None], ZoomClient | None],
        *,
        account_id: str | None,
        accounts: Sequence[str] = (),
        resources: Resources = FOLLOWUP_RESOURCES,
    ) -> None:
        self.engine = engine
        self.jobs = jobs
        self.client_for = client_for
        self.resources = backfill_resources(resources)
        #: The default account, for numbers and UUIDs no event tied to an account; None when
        #: several accounts have credentials and none is the environment's.
        self.account_id = account_id
        #: Every account with API credentials.
        self.accounts = tuple(accounts)

    def _client(self, account_id: str | None) -> ZoomClient:
        chosen = account_id or self.account_id
        if chosen is None and len(self.accounts) > 1:
            raise LookupError(
                f"several Zoom accounts have credentials ({', '.join(self.accounts)}) and "
                "nothing here says which one this belongs to: name the account (--account)"
            )
        client = self.client_for(chosen)
        if client is None:
            if account_id:
                raise LookupError(
                    f"no Zoom API credentials for account {account_id}: give an app in "
                    "ZOOMHOOKS_CONFIG that account_id, with client_id and client_secret"
                )
            raise LookupError(
                "Zoom API credentials are not configured: set ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID "
                "and ZOOM_CLIENT_SECRET"
            )
        return client

    def instances(
        self, kind: str, id_or_uuid: str, account_id: str | None = None
    ) -> list[PastInstance]:
        """A numeric id: every past instance Zoom lists for it (asked with `account_id`'s
        credentials). Anything else: that UUID."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        account_id = account_id or self.recorded_account(kind, id_or_uuid)
        if not id_or_uuid.isdigit():
            return [PastInstance(kind, id_or_uuid, account_id=account_id)]
        client = self._client(account_id)
        listing = (
            client.past_webinar_instances(id_or_uuid)
            if kind == "webinar"
            else client.past_meeting_instances(id_or_uuid)
        )
        return [
            PastInstance(
                kind,
                str(r["uuid"]),
                int(id_or_uuid),
                zoom_time(r.get("start_time")),
                account_id=account_id,
            )
            for r in listing.records
            if r.get("uuid")
        ]

    def recorded_account(self, kind: str, id_or_uuid: str) -> str | None:
        """The account webhooks recorded for this UUID or number, if exactly one."""
        column = instances.c.zoom_id if id_or_uuid.isdigit() else instances.c.uuid
        value: int | str = int(id_or_uuid) if id_or_uuid.isdigit() else id_or_uuid
        with self.engine.connect() as conn:
            accounts = set(
                conn.execute(
                    select(instances.c.account_id).where(
                        instances.c.kind == kind,
                        column == value,
                        instances.c.account_id.is_not(None),
                    )
                ).scalars()
            )
        return accounts.pop() if len(accounts) == 1 else None

    def known_ids(self, kind: str) -> list[KnownId]:
        """The meeting or webinar numbers this database has seen, each with the account its
        events came from (None when no event said), to reconcile by default."""
        with self.engine.connect() as conn:
            seen = {
                (zoom_id, account_id)
                for zoom_id, account_id in conn.execute(
                    select(instances.c.zoom_id, instances.c.account_id)
                    .where(instances.c.kind == kind, instances.c.zoom_id.is_not(None))
                    .distinct()
                )
            }
            if kind == "webinar":
                numbers = {zoom_id for zoom_id, _ in seen}
                registered = conn.execute(select(registrants.c.webinar_id).distinct()).scalars()
                seen |= {(number, None) for number in registered if number not in numbers}
        return [
            KnownId(kind, int(zoom_id), account_id)
            for zoom_id, account_id in sorted(seen, key=lambda pair: (pair[0], pair[1] or ""))
        ]

    def gaps(
        self, found: Iterable[PastInstance], *, since: datetime | None = None
    ) -> list[PastInstance]:
        """The instances (started at or after `since`) that have no follow-up job at all."""
        candidates = [
            i for i in found if since is None or i.start_time is None or i.start_time >= since
        ]
        if not candidates:
            return []
        with self.engine.connect() as conn:
            covered = set(
                conn.execute(
                    select(followups.c.instance_uuid).where(
                        followups.c.instance_uuid.in_([i.uuid for i in candidates])
                    )
                ).scalars()
            )
        return [i for i in candidates if i.uuid not in covered]

    def create(self, instance: PastInstance) -> list[int]:
        """The instance's row and its follow-up jobs, due now; ids of the jobs created."""
        row = {
            "uuid": instance.uuid,
            "zoom_id": instance.zoom_id,
            "kind": instance.kind,
            "account_id": instance.account_id or self.account_id,
            "start_time": instance.start_time,
        }
        with self.engine.begin() as conn:
            records.upsert_instance(conn, row, None)
            created = self.jobs.create(
                conn,
                instance_uuid=instance.uuid,
                kind=instance.kind,
                resources=self.resources[instance.kind],
                account_id=instance.account_id or self.account_id,
                inbox_id=None,
                first_attempt_at=utcnow(),
            )
        return [job_id for job_id, _ in created]

    def jobs_of(self, uuids: Sequence[str]) -> list[int]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(followups.c.id)
                    .where(followups.c.instance_uuid.in_(list(uuids)))
                    .order_by(followups.c.id)
                ).scalars()
            )

    def checks(
        self, account: str | None, given: Mapping[str, Sequence[int]] | None = None
    ) -> list[KnownId]:
        """What to ask Zoom: the numbers seen here (only `account`'s when given), plus `given`
        by kind."""
        given = given or {}
        checks: list[KnownId] = []
        for kind in KINDS:
            known = [
                k
                for k in self.known_ids(kind)
                if account is None or (k.account_id or self.account_id) == account
            ]
            seen = {k.zoom_id for k in known}
            checks += known
            numbers = given.get(kind, ())
            checks += [KnownId(kind, n, account) for n in dict.fromkeys(numbers) if n not in seen]
        return checks

    def reconcile(
        self,
        checks: Iterable[KnownId],
        *,
        since: datetime | None,
        until: datetime | None = None,
    ) -> Reconciliation:
        """Ask Zoom for every past instance of each number, each with its own account's
        credentials, and keep those started in [since, until] that have no follow-ups."""
        found = Reconciliation([], [], [])
        for check in checks:
            try:
                listed = self.instances(check.kind, str(check.zoom_id), check.account_id)
            except ZoomAPIError as exc:
                if exc.status == 404:
                    found.skipped.append((check, "Zoom no longer has it"))
                else:
                    found.failed.append((check, str(exc)))
                continue
            except LookupError as exc:
                found.failed.append((check, str(exc)))
                continue
            if until is not None:
                listed = [i for i in listed if i.start_time is None or i.start_time <= until]
            found.gaps.extend(self.gaps(listed, since=since))
        return found
