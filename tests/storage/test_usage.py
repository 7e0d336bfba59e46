"""Zoom API usage per UTC day: exact under concurrency, fed by every request the client makes,
and shown by /metrics and `zoomhooks stats`."""

from __future__ import annotations

import json
import math
import threading
from typing import Any

import httpx
from click.testing import CliRunner

from service.cli import main
from service.devtools.fakezoom import RunningFake, reports
from service.processing.live import FOLLOWUP_RESOURCES
from service.storage import db, migrate
from service.storage.usage import UsageRecorder, today
from tests.conftest import MakeRuntime, env_name
from tests.support import (
    SECRET,
    event_body,
    followups_done,
    ops_server,
    signed_headers,
    wait_until,
)


def test_concurrent_increments_are_exact(database_url: str) -> None:
    engine = db.create(database_url)
    migrate.upgrade(engine)
    usage = UsageRecorder(engine)

    def count() -> None:
        for _ in range(25):
            usage.record("acct", "Heavy")

    threads = [threading.Thread(target=count) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    usage.record("acct", "Light", 3)
    assert usage.on(today()) == {("acct", "Heavy"): 100, ("acct", "Light"): 3}


def test_follow_ups_record_every_call_and_stats_and_metrics_show_them(
    make_runtime: MakeRuntime,
    zoom_settings: dict[str, Any],
    fake_zoom: RunningFake,
    database_url: str,
) -> None:
    runtime = make_runtime(database_url=database_url, zoom_daily_cap=1000, **zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(81234567890, participants=650, absentees=2)
    fake_zoom.fake.faults.rate_limit("/v2/past_webinars/*/participants", count=1, retry_after="1")
    runtime.start_workers()
    body = event_body("webinar.ended", {"id": str(inst.id), "uuid": inst.uuid}, event_ts=1)
    runtime.ingestor.ingest(body, signed_headers(body))
    wait_until(
        lambda: followups_done(runtime, len(FOLLOWUP_RESOURCES["webinar"])),
        timeout=30,
    )
    calls = runtime.usage.on(today())
    account = str(zoom_settings["zoom_account_id"])
    api_calls = sum(
        fake_zoom.fake.calls(operation)
        for operation in (
            "listWebinarParticipants",
            "webinarAbsentees",
            "listPastWebinarQA",
            "listPastWebinarPollResults",
        )
    )
    assert api_calls == 3 + 1 + 1 + 1 + 1  # three pages and the 429, then one call each
    # Registrants (one listing per status), report participants and details count as well.
    api_calls += sum(
        fake_zoom.fake.calls(operation)
        for operation in ("webinarRegistrants", "reportWebinarParticipants", "reportWebinarDetails")
    )
    listings = [reports.registrants(inst, status)[0] for status in reports.STATUSES]
    pages = sum(max(1, math.ceil(n / 300)) for n in listings)
    assert api_calls == 3 + 1 + 1 + 1 + 1 + pages + 3 + 1
    # Every API request Zoom saw, the 429 included, and nothing for the OAuth token.
    assert sum(n for (a, _), n in calls.items() if a == account) == api_calls
    assert all(category for _, category in calls)
    with ops_server(runtime) as url:
        text = httpx.get(f"{url}/metrics").text
    assert "zoomhooks_zoom_daily_cap 1000.0" in text
    assert f'zoomhooks_zoom_daily_calls{{account_id="{account}"' in text
    env = {env_name(k): str(v) for k, v in zoom_settings.items()}
    env |= {
        "DATABASE_URL": database_url,
        "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
        "ZOOMHOOKS_ZOOM_DAILY_CAP": "1000",
    }
    result = CliRunner().invoke(main, ["stats", "--json"], env=env)
    assert result.exit_code == 0, result.output
    budget = json.loads(result.output)["zoom"]["accounts"][account]
    assert sum(budget["calls_by_category"].values()) == api_calls
    assert budget["daily_cap"] == 1000
    shown = CliRunner().invoke(main, ["stats"], env=env)
    assert "Zoom API calls today" in shown.output
    assert "of 1000" in shown.output
