"""Registrants, report participants and report details: `*.ended` in, real workers, real HTTP
to the fake Zoom, tables compared with the fake's ground truth; live registration events merged
with the listing in either order; a missing report scope or plan named, the rest done."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, select, text, update

from service.devtools.fakezoom import Instance, RunningFake
from service.devtools.fakezoom import reports as truth
from service.processing.followup import Later
from service.processing.live import FOLLOWUP_RESOURCES
from service.runtime import Runtime
from service.storage.models import (
    followups,
    instance_details,
    instances,
    registrant_answers,
    registrants,
    report_participants,
)
from tests.conftest import MakeRuntime
from tests.processing.test_followups import (
    WEBINAR_ID,
    created_job,
    ended,
    ingest,
    jobs,
    jobs_id,
    make_due,
    rows,
    t,
)
from tests.support import event_body, wait_until

WEBINAR_JOBS = len(FOLLOWUP_RESOURCES["webinar"])
#: Columns a later listing legitimately moves: when it saw the rows.
SNAPSHOT_TIME = ("listed_at", "event_ts", "updated_at")


@pytest.fixture
def runtime(make_runtime: MakeRuntime, zoom_settings: dict[str, Any], database_url: str) -> Runtime:
    return make_runtime(database_url=database_url, **zoom_settings)


def finished(runtime: Runtime, count: int) -> bool:
    found = [status for status, _, _ in jobs(runtime).values()]
    return len(found) == count and not {"pending", "running"} & set(found)


def expected_registrants(inst: Instance) -> list[tuple[Any, ...]]:
    found = []
    for status in truth.STATUSES:
        total, page = truth.registrants(inst, status)
        for r in page(0, total):
            found.append((r["id"], status, r["email"], r["first_name"], t(r["create_time"])))
    return sorted(found, key=repr)


def expected_answers(inst: Instance) -> list[tuple[Any, ...]]:
    found = []
    for status in truth.STATUSES:
        total, page = truth.registrants(inst, status)
        for r in page(0, total):
            found += [(r["id"], q["title"], q["value"]) for q in r["custom_questions"]]
    return sorted(found, key=repr)


def snapshot(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    tables = (registrants, registrant_answers, report_participants, instance_details, instances)
    return {
        table.name: rows(
            runtime, table, *(c.name for c in table.columns if c.name not in SNAPSHOT_TIME)
        )
        for table in tables
    }


def test_webinar_ended_stores_registrants_reports_and_details(
    runtime: Runtime, fake_zoom: RunningFake
) -> None:
    inst = fake_zoom.fake.world.add_webinar(
        WEBINAR_ID,
        participants=40,
        absentees=320,
        pending_registrants=301,
        denied_registrants=2,
        seed=5,
    )
    runtime.start_workers()
    ingest(runtime, ended("webinar", inst))
    wait_until(lambda: finished(runtime, WEBINAR_JOBS), timeout=60)
    assert {r: s for r, (s, _, _) in jobs(runtime).items()} == dict.fromkeys(
        FOLLOWUP_RESOURCES["webinar"], "done"
    )
    assert rows(
        runtime, registrants, "id", "status", "email", "first_name", "create_time"
    ) == expected_registrants(inst)
    assert rows(runtime, registrant_answers, "registrant_id", "title", "value") == (
        expected_answers(inst)
    )
    approved = truth.registrants(inst, "approved")[0]
    assert jobs(runtime)["registrants"][1] == approved + 301 + 2
    # One listing per status, each to its last page (300 a page).
    pages = math.ceil(approved / 300) + 2 + 1
    assert fake_zoom.fake.calls("webinarRegistrants") == pages
    report = truth.report_page(inst, with_registrant=True)(0, inst.participants)
    assert rows(
        runtime, report_participants, "user_email", "join_time", "registrant_id", "customer_key"
    ) == sorted(
        (
            (r["user_email"], t(r["join_time"]), r["registrant_id"], r["customer_key"])
            for r in report
        ),
        key=repr,
    )
    details = truth.report_details(inst)
    (stored,) = rows(
        runtime, instance_details, "zoom_id", "topic", "host_email", "total_minutes", "duration"
    )
    assert stored == (WEBINAR_ID, inst.topic, "host@example.com", details["total_minutes"], 60)
    assert fake_zoom.fake.calls("reportWebinarParticipants") == 1
    assert fake_zoom.fake.calls("reportWebinarDetails") == 1
    # Ops join registrants to attendance: every registered participant is found, and each
    # absentee is a registrant who did not attend.
    with runtime.engine.connect() as conn:
        attended = conn.execute(
            text(
                "SELECT count(DISTINCT r.id) FROM registrants r "
                "JOIN instances i ON i.zoom_id = r.webinar_id "
                "JOIN participants p ON p.instance_uuid = i.uuid AND p.registrant_id = r.id"
            )
        ).scalar_one()
        absent = conn.execute(
            text(
                "SELECT count(*) FROM registrants r JOIN absentees a ON a.id = r.id "
                "WHERE r.status = 'approved'"
            )
        ).scalar_one()
    assert attended == approved - 320
    assert absent == 320

    # Every job again (a retry from ops): nothing changes but when the listing was seen.
    before = snapshot(runtime)
    with runtime.engine.begin() as conn:
        conn.execute(update(followups).values(status="pending", next_attempt_at=None))
    for resource in FOLLOWUP_RESOURCES["webinar"]:
        runtime.schedule_followup(jobs_id(runtime, resource), datetime.now(UTC))
    wait_until(lambda: fake_zoom.fake.calls("reportWebinarDetails") == 2, timeout=30)
    wait_until(lambda: finished(runtime, WEBINAR_JOBS), timeout=60)
    wait_until(lambda: fake_zoom.fake.calls("webinarRegistrants") == 2 * pages, timeout=30)
    wait_until(lambda: finished(runtime, WEBINAR_JOBS), timeout=60)
    assert snapshot(runtime) == before


def registration(
    inst: Instance, record: dict[str, Any], name: str, event_ts: int, **changes: Any
) -> bytes:
    obj = {"id": inst.id, "uuid": inst.uuid, "registrant": {**record, **changes}}
    return event_body(name, obj, event_ts=event_ts)


def merged_rows(runtime: Runtime, table: Table) -> list[tuple[Any, ...]]:
    skip = ("pk", "listed_at", "event_ts", "followup_id")
    return rows(runtime, table, *(c.name for c in table.columns if c.name not in skip))


@pytest.mark.parametrize("live_first", [True, False], ids=["live_first", "listing_first"])
def test_live_events_and_the_listing_converge_to_one_row(
    make_runtime: MakeRuntime,
    zoom_settings: dict[str, Any],
    fake_zoom: RunningFake,
    live_first: bool,
) -> None:
    """A `registration_created` from before the listing, and an `approved` from after it, land
    on the listing's one row in either order: status by time, blanks filled from both."""
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=3, pending_registrants=2)
    pending = truth.registrant(inst, "pending", 0)
    runtime = make_runtime(**zoom_settings)
    job = created_job(runtime, "webinar", inst, "registrants")
    old = int((datetime.now(UTC) - timedelta(days=2)).timestamp() * 1000)
    created = registration(
        inst,
        pending,
        "webinar.registration_created",
        old,
        custom_questions=[{"title": "Live only?", "value": "yes"}],
    )

    def live() -> int:
        inbox_id = ingest(runtime, created)
        runtime.processor.process(inbox_id)
        return inbox_id

    inbox_id = live() if live_first else None
    assert runtime.runner.run(job) is None
    if not live_first:
        inbox_id = live()
    with runtime.engine.connect() as conn:
        row = conn.execute(select(registrants).where(registrants.c.id == pending["id"])).one()
        answers = dict(
            conn.execute(
                select(registrant_answers.c.title, registrant_answers.c.value).where(
                    registrant_answers.c.registrant_id == pending["id"]
                )
            ).all()
        )
    assert row.status == "pending"  # the listing is newer than the event
    assert row.inbox_id == inbox_id  # the event's trace survives the listing
    assert row.listed_at is not None and row.create_time == t(pending["create_time"])
    assert row.event_ts > old
    assert answers == {
        "Live only?": "yes",
        **{q["title"]: q["value"] for q in pending["custom_questions"]},
    }

    # Approved by the host later: the event outranks the listing, before or after a re-listing.
    later = int((datetime.now(UTC) + timedelta(days=1)).timestamp() * 1000)
    approved = registration(inst, pending, "webinar.registration_approved", later)
    runtime.processor.process(ingest(runtime, approved))
    with runtime.engine.begin() as conn:
        conn.execute(update(followups).where(followups.c.id == job).values(status="pending"))
    make_due(runtime, job)
    assert runtime.runner.run(job) is None
    with runtime.engine.connect() as conn:
        after = conn.execute(select(registrants).where(registrants.c.id == pending["id"])).one()
        count = conn.execute(
            select(registrants.c.id).where(registrants.c.id == pending["id"])
        ).all()
    assert (after.status, after.event_ts, len(count)) == ("approved", later, 1)


def test_live_and_listing_orders_store_the_same_rows(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=12, pending_registrants=3)
    record = truth.registrant(inst, "approved", 1)
    old = int((datetime.now(UTC) - timedelta(days=1)).timestamp() * 1000)
    body = registration(inst, record, "webinar.registration_created", old, status="pending")
    outcomes = []
    for live_first in (True, False):
        runtime = make_runtime(**zoom_settings)
        job = created_job(runtime, "webinar", inst, "registrants")
        if live_first:
            runtime.processor.process(ingest(runtime, body))
        assert runtime.runner.run(job) is None
        if not live_first:
            runtime.processor.process(ingest(runtime, body))
        outcomes.append(
            (merged_rows(runtime, registrants), merged_rows(runtime, registrant_answers))
        )
    assert outcomes[0] == outcomes[1]
    statuses = {r[0]: r for r in rows(runtime, registrants, "id", "status")}
    assert statuses[record["id"]][1] == "approved"


@pytest.mark.parametrize("fault", ["withheld", "no_plan"])
def test_a_missing_report_scope_or_plan_is_named_and_the_rest_completes(
    runtime: Runtime, fake_zoom: RunningFake, fault: str
) -> None:
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=20, absentees=3, seed=1)
    if fault == "withheld":
        fake_zoom.fake.withheld_scopes = frozenset({"report:read:admin"})
    else:  # Zoom's answer to an account without a paid plan (or Webinar add-on)
        fake_zoom.fake.faults.permission("/v2/report/*", count=None, code=200)
    runtime.start_workers()
    ingest(runtime, ended("webinar", inst))
    wait_until(lambda: finished(runtime, WEBINAR_JOBS), timeout=60)
    found = jobs(runtime)
    granular = {
        "report": "report:read:list_webinar_participants:admin",
        "details": "report:read:webinar:admin",
    }
    for resource, scope in granular.items():
        status, _, error = found[resource]
        assert status == "failed", found
        assert scope in str(error) and "report:read:admin" in str(error), error
        if fault == "no_plan":
            assert "paid plan" in str(error)
    others = {r: s for r, (s, _, _) in found.items() if r not in ("report", "details")}
    assert set(others.values()) == {"done"}, found
    # Tried once, not retried: an operator must act.
    assert fake_zoom.fake.calls("reportWebinarParticipants") == 1
    assert fake_zoom.fake.calls("reportWebinarDetails") == 1


def test_without_reports_no_report_job_is_created_live_or_by_backfill(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    """ZOOMHOOKS_FETCH_REPORTS=false: for an account with no report scope or paid plan, whose
    report jobs would fail once per instance (and raise an alert each time)."""
    runtime = make_runtime(**zoom_settings, fetch_reports=False)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=20, absentees=3, seed=1)
    runtime.start_workers()
    ingest(runtime, ended("webinar", inst))
    wait_until(lambda: finished(runtime, WEBINAR_JOBS - 2), timeout=60)
    assert set(jobs(runtime)) == {"participants", "absentees", "qa", "polls", "registrants"}
    assert {s for s, _, _ in jobs(runtime).values()} == {"done"}
    (found,) = runtime.backfiller.instances("webinar", str(WEBINAR_ID))
    # Every live job it would make exists already; only the backfill's own recordings is new.
    assert len(runtime.backfiller.create(found)) == 1
    assert set(jobs(runtime)) == {
        "participants",
        "absentees",
        "qa",
        "polls",
        "registrants",
        "recordings",
    }
    calls = ("reportWebinarParticipants", "reportWebinarDetails")
    assert [fake_zoom.fake.calls(c) for c in calls] == [0, 0]


def test_not_ready_and_429_on_the_new_endpoints(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(
        WEBINAR_ID, participants=650, pending_registrants=5, seed=3
    )
    fake = fake_zoom.fake
    fake.faults.not_ready("/v2/webinars/*/registrants", count=1)
    fake.faults.rate_limit("/v2/report/webinars/*/participants", count=1, retry_after="12")
    # A short per-second 429 in the middle of a listing is waited out in place.
    fake.faults.rate_limit("/v2/report/webinars/*", count=1, skip=1, retry_after="1")
    registrants_job = created_job(runtime, "webinar", inst, "registrants")
    first = runtime.runner.run(registrants_job)
    assert isinstance(first, Later)
    assert jobs(runtime)["registrants"][0] == "pending"
    wait_until(lambda: datetime.now(UTC) > first.at)
    assert runtime.runner.run(registrants_job) is None
    assert jobs(runtime)["registrants"][:2] == ("done", truth.registrants(inst, "approved")[0] + 5)

    report_job = jobs_id(runtime, "report")
    later = runtime.runner.run(report_job)
    assert isinstance(later, Later) and later.at >= datetime.now(UTC) + timedelta(seconds=10)
    with runtime.engine.connect() as conn:
        attempts = conn.execute(
            select(followups.c.attempts).where(followups.c.id == report_job)
        ).scalar()
    assert attempts == 0  # a wait Zoom imposed is no attempt
    make_due(runtime, report_job)
    from service.governor import MemoryStateStore

    runtime.governor.store = MemoryStateStore()  # as if the 12 s had passed
    assert runtime.runner.run(report_job) is None
    assert jobs(runtime)["report"][:2] == ("done", 650)
    # 3 pages, the long 429 and the short one: no page fetched twice.
    assert fake.calls("reportWebinarParticipants") == 3 + 2


def test_a_backfilled_instance_gets_the_new_jobs(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=8, denied_registrants=2)
    (found,) = runtime.backfiller.instances("webinar", str(WEBINAR_ID))
    created = runtime.backfiller.create(found)
    assert len(created) == WEBINAR_JOBS + 1  # and its recording
    for job in created:
        assert runtime.runner.run(job) is None
    assert {s for s, _, _ in jobs(runtime).values()} == {"done"}
    assert rows(runtime, registrants, "status").count(("denied",)) == 2
    (stored,) = rows(runtime, instance_details, "instance_uuid", "zoom_id")
    assert stored == (inst.uuid, WEBINAR_ID)


def test_registrants_of_an_instance_whose_number_is_unknown_say_how_to_get_it(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=2)
    (found,) = runtime.backfiller.instances("webinar", inst.uuid)  # a UUID: no number
    runtime.backfiller.create(found)
    registrants_job = jobs_id(runtime, "registrants")
    assert runtime.runner.run(registrants_job) is None
    status, _, error = jobs(runtime)["registrants"]
    assert status == "not_applicable" and "backfill it by number" in str(error)
    # Once the report details told the number, a retry lists them.
    assert runtime.runner.run(jobs_id(runtime, "details")) is None
    with runtime.engine.begin() as conn:
        conn.execute(
            update(followups).where(followups.c.id == registrants_job).values(status="pending")
        )
    make_due(runtime, registrants_job)
    assert runtime.runner.run(registrants_job) is None
    assert jobs(runtime)["registrants"][0] == "done"
