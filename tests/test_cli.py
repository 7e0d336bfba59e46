"""The commands: migrate, and the production shape, `serve` (HTTP only) beside `worker`
processes on a real broker, with `sweep` for rows no message carries."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, select, update

from service.cli import main
from service.storage.models import webhook_events
from service.storage.types import utcnow
from tests.support import (
    SECRET,
    ZOOMHOOKS,
    event_body,
    free_port,
    process_env,
    signed_headers,
    start_serve,
    wait_until,
)


def env_for(database_url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET, **extra}


def test_migrate_creates_the_schema(database_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["migrate"], env=env_for(database_url))
    assert result.exit_code == 0, result.output
    assert "newest revision" in result.output
    engine = create_engine(database_url)
    assert {"webhook_events", "followups", "participants"} <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.parametrize("command", ["web", "worker", "sweep"])
def test_the_split_roles_need_a_real_broker(command: str, sqlite_url: str) -> None:
    result = CliRunner().invoke(main, [command], env={**env_for(sqlite_url), "BROKER_URL": ""})
    assert result.exit_code != 0
    assert "BROKER_URL is not set" in result.output


def test_serve_keeps_metrics_and_readiness_off_the_public_port(
    sqlite_url: str, tmp_path: Path
) -> None:
    serve = start_serve(tmp_path, env_for(sqlite_url))
    try:
        for path in ("/metrics", "/readyz", "/livez"):
            assert httpx.get(serve.url + path, timeout=5).status_code == 404, path
        assert httpx.get(serve.url + "/healthz", timeout=5).status_code == 200
        scraped = httpx.get(serve.ops_url + "/metrics", timeout=5)
        assert scraped.status_code == 200
        assert "zoomhooks_inbox_events" in scraped.text  # the tables' gauges are there too
        assert httpx.get(serve.ops_url + "/livez", timeout=5).json() == {"status": "live"}
        assert httpx.get(serve.ops_url + "/webhooks/zoom", timeout=5).status_code == 404
        assert f"/metrics and /readyz on {serve.ops_url}" in serve.output()
    finally:
        serve.stop()


def test_a_taken_ops_port_is_one_clear_line(sqlite_url: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(ZOOMHOOKS), "serve", "--port", str(free_port()), "--ops-port", str(port)],
            env=process_env(env_for(sqlite_url)),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"Error: cannot open the ops port {port}" in done.stderr
    assert "--ops-port" in done.stderr and "Traceback" not in done.stderr


def test_the_ops_port_and_host_come_from_the_environment(sqlite_url: str, tmp_path: Path) -> None:
    """ZOOMHOOKS_OPS_PORT for every role, and its interface apart from the public one's."""
    port, ops_port = free_port(), free_port()
    env = env_for(sqlite_url, ZOOMHOOKS_OPS_PORT=str(ops_port), ZOOMHOOKS_OPS_HOST="127.0.0.1")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ZOOMHOOKS), "serve", "--host", "localhost", "--port", str(port)],
            env=process_env(env),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{ops_port}/readyz", timeout=1).is_success
            except httpx.TransportError:
                return process.poll() is not None

        wait_until(ready, timeout=60, interval=0.1)
        assert process.poll() is None, log.read_text()
    finally:
        process.kill()
        process.wait(10)


def statuses(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(select(webhook_events.c.status)).scalars())
    finally:
        engine.dispose()


@pytest.mark.slow
def test_web_and_worker_processes_on_a_real_broker(
    postgres_url: str, real_broker_url: str, queue_prefix: str, tmp_path: Path
) -> None:
    env = env_for(postgres_url, BROKER_URL=real_broker_url, ZOOMHOOKS_QUEUE_PREFIX=queue_prefix)
    subprocess.run([str(ZOOMHOOKS), "migrate"], env=process_env(env), check=True, timeout=60)
    web = start_serve(tmp_path, env, name="web", command="web")
    log = (tmp_path / "worker.log").open("wb")
    metrics_port = free_port()
    worker = subprocess.Popen(
        [str(ZOOMHOOKS), "worker", "--metrics-port", str(metrics_port)],
        env=process_env(env),
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for i in range(30):
            body = event_body("meeting.started", {"id": "1", "uuid": f"m{i}=="}, event_ts=i)
            response = httpx.post(
                web.url + "/webhooks/zoom", content=body, headers=signed_headers(body), timeout=5
            )
            assert response.status_code == 200
        wait_until(lambda: statuses(postgres_url) == ["done"] * 30, timeout=30, interval=0.2)
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert (
            'zoomhooks_events_processed_total{event="meeting.started",outcome="done"} 30.0'
            in scraped
        )
        live = httpx.get(f"http://127.0.0.1:{metrics_port}/livez", timeout=5)
        assert (live.status_code, live.json()) == (200, {"status": "live"})
        # A row whose message was lost: the one-shot sweep re-enqueues it for the worker.
        engine = create_engine(postgres_url)
        with engine.begin() as conn:
            conn.execute(
                update(webhook_events)
                .where(webhook_events.c.id == 1)
                .values(status="received", updated_at=utcnow().replace(year=2020))
            )
        engine.dispose()
        sweep = subprocess.run(
            [str(ZOOMHOOKS), "sweep"],
            env=process_env(env),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert sweep.returncode == 0, sweep.stderr
        assert "re-enqueued 1" in sweep.stdout
        wait_until(lambda: statuses(postgres_url) == ["done"] * 30, timeout=30, interval=0.2)
    finally:
        worker.terminate()
        assert worker.wait(30) == 0  # SIGTERM: a graceful stop
        log.close()
        web.stop()


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["serve", "migrate", "sweep"])
def test_a_refused_database_login_is_one_line(
    command: str, postgres_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Not a page of traceback: one line naming the database, never its password."""
    wrong = postgres_url.replace("postgres@", "nobody-zoomhooks:hunter2-wrong@", 1)
    assert wrong != postgres_url
    args = {"serve": ["serve", "--port", str(free_port())]}
    broker = {"BROKER_URL": request.getfixturevalue("redis_url")} if command == "sweep" else {}
    done = subprocess.run(
        [str(ZOOMHOOKS), *args.get(command, [command])],
        env=process_env(env_for(wrong, **broker)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: database error on")]
    assert len(errors) == 1 and "nobody-zoomhooks:***@" in errors[0], done.stderr
    assert "Traceback" not in done.stderr and "hunter2-wrong" not in done.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["web", "worker"])
def test_web_and_worker_warn_once_of_a_refused_database_login(
    command: str, postgres_url: str, redis_url: str, queue_prefix: str, tmp_path: Path
) -> None:
    """They run on (the database may come back; /readyz says why meanwhile), but a wrong
    login is said at start, in one line, never with the password."""
    wrong = postgres_url.replace("postgres@", "nobody-zoomhooks:hunter2-wrong@", 1)
    env = env_for(
        wrong,
        BROKER_URL=redis_url,
        ZOOMHOOKS_QUEUE_PREFIX=queue_prefix,
        ZOOMHOOKS_LOG_FORMAT="text",
    )
    ports = ["--port", str(free_port()), "--ops-port", str(free_port())]
    args = [str(ZOOMHOOKS), command] + (ports if command == "web" else [])
    log_path = tmp_path / f"{command}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            args, env=process_env(env), cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until(lambda: "database error on" in log_path.read_text(), timeout=30)
            assert proc.poll() is None  # still running
        finally:
            proc.terminate()
            proc.wait(30)
    text = log_path.read_text()
    warned = [line for line in text.splitlines() if "database error on" in line]
    assert len(warned) == 1 and "WARNING" in warned[0], text
    assert "postgresql+psycopg://nobody-zoomhooks:" in warned[0] and "running on" in warned[0]
    assert "Traceback" not in text and "hunter2-wrong" not in text
