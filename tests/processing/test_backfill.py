"""backfill and reconcile: instances whose `*.ended` never arrived, found at Zoom and filled."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select

from service.cli import main
from service.devtools.fakezoom import RunningFake
from service.runtime import Runtime
from service.storage.models import followups, participants
from tests.conftest import MakeRuntime, env_name
from tests.support import SECRET, event_body, signed_headers

WEBINAR_ID = 81234567890


def cli_env(runtime: Runtime, zoom_settings: dict[str, Any]) -> dict[str, str]:
    env = {env_name(k): str(v) for k, v in zoom_settings.items()}
    return {
        **env,
        "DATABASE_URL": runtime.settings.database,
        "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
        "ZOOMHOOKS_QUEUE_PREFIX": runtime.settings.queue_prefix,
        "BROKER_URL": "",
    }


def count(runtime: Runtime, table: Any, **where: str) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with runtime.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_backfill_by_number_fills_every_past_instance(
    make_runtime: MakeRuntime,
    zoom_settings: dict[str, Any],
    fake_zoom: RunningFake,
    database_url: str,
) -> None:
    runtime = make_runtime(database_url=database_url, **zoom_settings)
    first = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=310, absentees=4)
    second = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=12)
    result = CliRunner().invoke(
        main, ["backfill", "webinar", str(WEBINAR_ID)], env=cli_env(runtime, zoom_settings)
    )
    assert result.exit_code == 0, result.output
    assert count(runtime, participants, instance_uuid=first.uuid) == 310
    assert count(runtime, participants, instance_uuid=second.uuid) == 12
    assert count(runtime, followups, status="done") == 8
    again = CliRunner().invoke(
        main, ["backfill", "webinar", first.uuid], env=cli_env(runtime, zoom_settings)
    )
    assert again.exit_code == 0, again.output
    assert "no new follow-up jobs" in again.output  # a rerun finds the jobs it made


def test_reconcile_finds_and_fills_a_gap(
    make_runtime: MakeRuntime,
    zoom_settings: dict[str, Any],
    fake_zoom: RunningFake,
    database_url: str,
) -> None:
    runtime = make_runtime(database_url=database_url, **zoom_settings)
    delivered = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=5)
    dropped = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=7)  # its ended was lost
    body = event_body("webinar.ended", {"id": str(WEBINAR_ID), "uuid": delivered.uuid}, event_ts=1)
    runtime.processor.process(runtime.ingestor.ingest(body, signed_headers(body)).inbox_id)  # type: ignore[union-attr]
    for job in runtime.backfiller.jobs_of([delivered.uuid]):
        runtime.runner.run(job)
    env = cli_env(runtime, zoom_settings)
    dry = CliRunner().invoke(main, ["reconcile", "--since", "2024-01-01", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert f"gap: webinar {WEBINAR_ID} {dropped.uuid}" in dry.output
    assert delivered.uuid not in dry.output
    assert count(runtime, participants, instance_uuid=dropped.uuid) == 0
    later = CliRunner().invoke(main, ["reconcile", "--since", "2030-01-01", "--dry-run"], env=env)
    assert "0 instances since 2030-01-01" in later.output
    fill = CliRunner().invoke(main, ["reconcile", "--since", "2024-01-01"], env=env)
    assert fill.exit_code == 0, fill.output
    assert count(runtime, participants, instance_uuid=dropped.uuid) == 7
    assert (
        "0 instances"
        in CliRunner()
        .invoke(main, ["reconcile", "--since", "2024-01-01", "--dry-run"], env=env)
        .output
    )


def test_backfill_needs_credentials_and_a_known_instance(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    env = cli_env(runtime, zoom_settings)
    missing = CliRunner().invoke(main, ["backfill", "webinar", "999"], env=env)
    assert missing.exit_code != 0
    assert "999" in missing.output
    no_creds = {**env, "ZOOM_CLIENT_SECRET": ""}
    refused = CliRunner().invoke(main, ["backfill", "webinar", "999"], env=no_creds)
    assert refused.exit_code != 0
    assert "ZOOM_CLIENT_SECRET" in refused.output
