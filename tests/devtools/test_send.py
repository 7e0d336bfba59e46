"""`zoomhooks send` builds deliveries the endpoint verifies, and `zoomhooks dev` runs the
whole flow against the fake Zoom."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from service.cli import main
from service.devtools import send
from service.devtools.dev import DEV_SECRET
from service.processing.live import FOLLOWUP_RESOURCES
from service.webhooks.events import parse
from service.webhooks.signature import verify
from tests.conftest import MakeRuntime
from tests.support import (
    SECRET,
    ZOOMHOOKS,
    Service,
    free_port,
    live_server,
    process_env,
    wait_until,
)


@pytest.mark.parametrize("event", send.bundled())
def test_every_bundled_event_is_sent_compact_fresh_and_signed(event: str) -> None:
    now = time.time()
    sent = send.delivery(send.load(event), secret=SECRET, now=now)
    verified = verify(
        secrets=[SECRET.encode()],
        signature=sent.headers["x-zm-signature"],
        timestamp=sent.headers["x-zm-request-timestamp"],
        body=sent.body,
        now=now,
        tolerance_seconds=60,
        future_skew_seconds=60,
    )
    assert verified.timestamp == int(now)
    assert b"\n" not in sent.body
    assert parse(sent.body).event_ts == int(now * 1000)


def test_a_file_can_be_sent_and_junk_is_refused(tmp_path: Path) -> None:
    good = tmp_path / "custom.json"
    good.write_text('{"event": "meeting.started", "payload": {"object": {"uuid": "x"}}}')
    assert send.load(str(good))["event"] == "meeting.started"
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    with pytest.raises(ValueError, match="not a Zoom event"):
        send.load(str(bad))
    with pytest.raises(ValueError, match="bundled: "):
        send.load("no.such.event")


def test_send_reaches_a_running_service(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime()
    with live_server(runtime.web_app()) as url:
        runner = CliRunner()
        ok = runner.invoke(
            main, ["send", "webinar.started", "--url", f"{url}/webhooks/zoom", "--secret", SECRET]
        )
        assert ok.exit_code == 0, ok.output
        assert "HTTP 200" in ok.output
        wrong = runner.invoke(
            main,
            [
                "send",
                "webinar.started",
                "--url",
                f"{url}/webhooks/zoom",
                "--secret",
                "not-the-secret",
            ],
        )
        assert wrong.exit_code == 1
        assert "HTTP 401" in wrong.output
    assert runtime.inbox.counts() == {"received": 1}
    runtime.start_workers()
    wait_until(lambda: runtime.inbox.counts() == {"done": 1})


def test_send_says_what_is_missing() -> None:
    result = CliRunner().invoke(
        main, ["send", "webinar.ended"], env={"ZOOM_WEBHOOK_SECRET_TOKEN": ""}
    )
    assert result.exit_code != 0
    assert "--secret" in result.output
    unreachable = CliRunner().invoke(
        main,
        ["send", "webinar.ended", "--secret", "s", "--url", f"http://127.0.0.1:{free_port()}/"],
    )
    assert unreachable.exit_code != 0
    assert "could not reach" in unreachable.output


@pytest.mark.slow
def test_dev_runs_the_whole_flow_without_a_zoom_account(tmp_path: Path) -> None:
    port, ops_port = free_port(), free_port()
    env = process_env()
    log = tmp_path / "dev.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ZOOMHOOKS), "dev", "--port", str(port), "--ops-port", str(ops_port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    service = Service(process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ops_port}", log)
    try:
        wait_until(lambda: process.poll() is not None or service.ready(), timeout=60, interval=0.1)
        assert process.poll() is None, service.output()
        assert f"--secret {DEV_SECRET}" in service.output()
        # The ops commands default to data/zoomhooks.sqlite3: the banner says how to reach this,
        # from any directory.
        where = f"sqlite:///{(tmp_path / 'data' / 'dev.sqlite3').resolve()}"
        assert f"DATABASE_URL={where} zoomhooks stats" in service.output()
        sent = send.delivery(send.load("webinar.ended"), secret=DEV_SECRET)
        assert send.post(f"{service.url}/webhooks/zoom", sent).status_code == 200
        engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'dev.sqlite3'}")

        def statuses() -> list[str]:
            with engine.connect() as conn:
                return sorted(conn.execute(text("SELECT status FROM followups")).scalars())

        wait_until(
            lambda: statuses() == ["done"] * len(FOLLOWUP_RESOURCES["webinar"]),
            timeout=30,
            interval=0.2,
        )
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM participants")).scalar_one() > 0
        engine.dispose()
        assert httpx.get(f"{service.ops_url}/readyz", timeout=5).status_code == 200
    finally:
        service.stop()
