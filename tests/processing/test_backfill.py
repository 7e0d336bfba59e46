"""backfill and reconcile: instances whose `*.ended` never arrived, found at Zoom and filled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from service.cli import main
from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    FakeZoom,
    FaultKind,
    RunningFake,
    running,
)
from service.processing.backfill import backfill_resources
from service.processing.ingest import Accepted
from service.processing.live import FOLLOWUP_RESOURCES
from service.runtime import Runtime
from service.storage import records
from service.storage.models import followups, instances, participants
from service.zoom import encode_path_id
from tests.conftest import MakeRuntime, env_name
from tests.support import BETA, SECRET, TWO_APPS, event_body, signed_headers

WEBINAR_ID = 81234567890

#: What a backfill fetches of a webinar: the live follow-ups and its recording.
BACKFILLED = backfill_resources(FOLLOWUP_RESOURCES)["webinar"]


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
    assert count(runtime, followups, status="done") == 2 * len(BACKFILLED)
    again = CliRunner().invoke(
        main, ["backfill", "webinar", first.uuid], env=cli_env(runtime, zoom_settings)
    )
    assert again.exit_code == 0, again.output
    assert "no new follow-up jobs" in again.output  # a rerun finds the jobs it made


def test_a_backfill_whose_jobs_failed_exits_1_and_counts_only_its_own_jobs(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    other = fake_zoom.fake.world.add_webinar(WEBINAR_ID + 1, participants=3)
    env = cli_env(runtime, zoom_settings)
    assert CliRunner().invoke(main, ["backfill", "webinar", other.uuid], env=env).exit_code == 0
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=5)
    fake_zoom.fake.faults.add(
        kind=FaultKind.ERROR,
        path="/v2/past_webinars/*/participants",
        count=None,
        status=400,
        code=4711,
        message="Invalid access token, does not contain scopes:[report:read:admin].",
    )
    result = CliRunner().invoke(main, ["backfill", "webinar", inst.uuid], env=env)
    assert result.exit_code == 1, result.output
    assert "1 failed" in result.output
    # Its own four jobs, not the other webinar's done ones as well.
    assert "participants failed 1" in result.output and "participants done" not in result.output


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


# -- several accounts ---------------------------------------------------------------------------

ALPHA_WEBINAR = 81000000001
BETA_WEBINAR = 82000000002


@pytest.fixture
def two_accounts(
    make_runtime: MakeRuntime, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Runtime, RunningFake, dict[str, str]]]:
    """A runtime whose only apps are two accounts' (no environment app), the fake that knows
    both, and the environment that points the CLI at them."""
    monkeypatch.setenv("BETA_CLIENT_SECRET", BETA.client_secret)
    config = tmp_path / "zoomhooks.toml"
    config.write_text(TWO_APPS)
    with running(FakeZoom(accounts=[BETA])) as fake:
        zoom = {
            "zoom_api_base_url": fake.api_url,
            "zoom_oauth_url": fake.oauth_url,
            "followup_delay_seconds": 0,
            "not_ready_retry_seconds": 0.05,
        }
        runtime = make_runtime(
            database_url=database_url, config_file=str(config), webhook_secret_token=None, **zoom
        )
        env = {
            **{env_name(k): str(v) for k, v in zoom.items()},
            "ZOOMHOOKS_CONFIG": str(config),
            "DATABASE_URL": runtime.settings.database,
            "ZOOMHOOKS_QUEUE_PREFIX": runtime.settings.queue_prefix,
            "ZOOM_WEBHOOK_SECRET_TOKEN": "",
            "ZOOM_ACCOUNT_ID": "",
            "ZOOM_CLIENT_ID": "",
            "ZOOM_CLIENT_SECRET": "",
            "BROKER_URL": "",
        }
        yield runtime, fake, env


def deliver_ended(runtime: Runtime, app: str, secret: str, account: str, inst: Any) -> None:
    obj = {"id": str(inst.id), "uuid": inst.uuid}
    body = event_body("webinar.ended", obj, event_ts=inst.id, account=account)
    ingested = runtime.ingestors[app].ingest(body, signed_headers(body, secret=secret))
    assert isinstance(ingested, Accepted)
    runtime.processor.process(ingested.inbox_id)
    for job in runtime.backfiller.jobs_of([inst.uuid]):
        runtime.runner.run(job)


def past_instance_calls(fake: RunningFake, account_id: str) -> set[str]:
    return {
        r.raw_path
        for r in fake.fake.log.records("pastWebinars", account_id=account_id)
        if r.status == 200
    }


def test_reconcile_asks_each_account_about_its_own_numbers(
    two_accounts: tuple[Runtime, RunningFake, dict[str, str]],
) -> None:
    runtime, fake, env = two_accounts
    world = fake.fake.world
    alpha_seen = world.add_webinar(ALPHA_WEBINAR, participants=3)
    alpha_lost = world.add_webinar(ALPHA_WEBINAR, participants=4)
    beta_seen = world.add_webinar(BETA_WEBINAR, participants=5)
    beta_lost = world.add_webinar(BETA_WEBINAR, participants=6)
    deliver_ended(runtime, "alpha", "alpha-secret", DEFAULT_ACCOUNT_ID, alpha_seen)
    deliver_ended(runtime, "beta", "beta-new", BETA.account_id, beta_seen)

    result = CliRunner().invoke(main, ["reconcile", "--since", "2020-01-01"], env=env)
    assert result.exit_code == 0, result.output
    assert f"gap: webinar {ALPHA_WEBINAR} {alpha_lost.uuid}" in result.output
    assert f"gap: webinar {BETA_WEBINAR} {beta_lost.uuid}" in result.output
    # Each number went to Zoom with its own account's token, and so did each follow-up.
    assert past_instance_calls(fake, DEFAULT_ACCOUNT_ID) == {
        f"/v2/past_webinars/{ALPHA_WEBINAR}/instances"
    }
    assert past_instance_calls(fake, BETA.account_id) == {
        f"/v2/past_webinars/{BETA_WEBINAR}/instances"
    }
    assert count(runtime, participants, instance_uuid=alpha_lost.uuid) == 4
    assert count(runtime, participants, instance_uuid=beta_lost.uuid) == 6
    done = count(runtime, followups, account_id=BETA.account_id, status="done")
    # The delivered instance got the live follow-ups; the reconciled one its recording too.
    assert done == len(FOLLOWUP_RESOURCES["webinar"]) + len(BACKFILLED)
    assert count(runtime, instances, uuid=beta_lost.uuid, account_id=BETA.account_id) == 1
    beta_paths = [r.raw_path for r in fake.fake.log.records(account_id=BETA.account_id)]
    assert not any(encode_path_id(alpha_lost.uuid) in path for path in beta_paths)

    only_beta = CliRunner().invoke(
        main, ["reconcile", "--since", "2020-01-01", "--account", BETA.account_id], env=env
    )
    assert only_beta.exit_code == 0, only_beta.output
    assert "0 instances" in only_beta.output
    assert len(fake.fake.log.records("pastWebinars", account_id=DEFAULT_ACCOUNT_ID)) == 1


def test_backfill_with_several_accounts_asks_the_one_named_or_recorded(
    two_accounts: tuple[Runtime, RunningFake, dict[str, str]],
) -> None:
    runtime, fake, env = two_accounts
    world = fake.fake.world
    unseen = world.add_webinar(BETA_WEBINAR, participants=2)
    ambiguous = CliRunner().invoke(main, ["backfill", "webinar", str(BETA_WEBINAR)], env=env)
    assert ambiguous.exit_code == 1
    assert "several Zoom accounts" in ambiguous.output and "--account" in ambiguous.output
    unknown = CliRunner().invoke(
        main, ["backfill", "webinar", str(BETA_WEBINAR), "--account", "nobody"], env=env
    )
    assert unknown.exit_code == 1
    assert "account nobody" in unknown.output and BETA.account_id in unknown.output
    assert fake.fake.calls() == 0  # neither asked Zoom anything
    named = CliRunner().invoke(
        main, ["backfill", "webinar", str(BETA_WEBINAR), "--account", BETA.account_id], env=env
    )
    assert named.exit_code == 0, named.output
    assert count(runtime, participants, instance_uuid=unseen.uuid) == 2
    assert fake.fake.calls(account_id=DEFAULT_ACCOUNT_ID) == 0
    # The instance is now recorded with its account: a rerun by UUID needs no --account.
    again = CliRunner().invoke(main, ["backfill", "webinar", unseen.uuid], env=env)
    assert again.exit_code == 0, again.output
    assert "no new follow-up jobs" in again.output


def test_reconcile_skips_numbers_zoom_deleted_and_reports_those_it_cannot_ask(
    two_accounts: tuple[Runtime, RunningFake, dict[str, str]],
) -> None:
    runtime, fake, env = two_accounts
    kept = fake.fake.world.add_webinar(ALPHA_WEBINAR, participants=1)
    lost = fake.fake.world.add_webinar(ALPHA_WEBINAR, participants=2)
    deliver_ended(runtime, "alpha", "alpha-secret", DEFAULT_ACCOUNT_ID, kept)
    with runtime.engine.begin() as conn:
        for uuid, zoom_id, account in (
            ("deleted==", 83000000003, DEFAULT_ACCOUNT_ID),  # Zoom no longer has it
            ("orphan==", 84000000004, "uninstalled-account"),  # no app has its credentials
        ):
            records.upsert_instance(
                conn,
                {"uuid": uuid, "zoom_id": zoom_id, "kind": "webinar", "account_id": account},
                None,
            )
    result = CliRunner().invoke(main, ["reconcile", "--since", "2020-01-01"], env=env)
    assert result.exit_code == 1
    assert "skipped: webinar 83000000003: Zoom no longer has it" in result.output
    assert "failed: webinar 84000000004" in result.output
    assert "uninstalled-account" in result.output
    assert "1 of 3 numbers could not be checked" in result.output
    # The rest was still reconciled.
    assert count(runtime, participants, instance_uuid=lost.uuid) == 2
