"""`zoomhooks`: serve (all in one), web, worker, sweep, migrate; send and dev for trying it."""

from __future__ import annotations

import functools
import gc
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx
import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from service import boot, metrics, ops
from service.config import Settings
from service.devtools import send as sender
from service.ops import session
from service.probe import DEFAULT_PORT as DEFAULT_OPS_PORT
from service.probe import ProbeServer, liveness, readiness
from service.queue import broker as brokers
from service.runtime import Runtime
from service.storage import migrate as migrations
from service.web.corked import CorkedHttpToolsProtocol

log = logging.getLogger("zoomhooks")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: How long uvicorn lets requests in flight finish on shutdown (seconds).
DEFAULT_GRACEFUL_SHUTDOWN = 10


def _wait_for_signal() -> None:
    stop = threading.Event()

    def handler(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    stop.wait()


@click.group()
def main() -> None:
    """zoomhooks: verified Zoom webhooks into a durable inbox, and the work they hint at."""


@main.command()
def migrate() -> None:
    """Bring the database schema to the newest revision."""
    settings = boot.start()
    runtime = Runtime(settings)
    try:
        with _one_line_database_errors(runtime):
            migrations.upgrade(runtime.engine)
    finally:
        runtime.close()
    click.echo("database is at the newest revision")


@contextmanager
def _one_line_database_errors(runtime: Runtime) -> Iterator[None]:
    """A database that refuses us at start (a wrong password, no such database) is one line
    naming it (never its password), not a page of traceback."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise session.database_error(runtime.engine, exc, runtime.settings) from None


def _warn_if_the_database_refuses(runtime: Runtime) -> None:
    """`web` and `worker` keep running while the database is away (they recover when it is
    back, and `/readyz` says why meanwhile), but a wrong login must not pass unnoticed: one line
    at start, naming the database without its password."""
    try:
        with runtime.engine.connect():
            pass
    except SQLAlchemyError as exc:
        error = session.database_error(runtime.engine, exc, runtime.settings)
        log.warning("%s; running on, and connecting again as work arrives", error.message)


def _warn_about_missing_secrets(settings: Settings) -> None:
    if not settings.apps.any_secret:
        log.warning(
            "ZOOM_WEBHOOK_SECRET_TOKEN is not set: webhooks get 503 (Zoom retries) until it is"
        )
    elif not settings.webhook_secrets:
        log.info(
            "serving the apps of ZOOMHOOKS_CONFIG at %s; /webhooks/zoom answers 503 without "
            "ZOOM_WEBHOOK_SECRET_TOKEN",
            ", ".join(app.path for app in settings.apps.apps.values()),
        )
    if not settings.zoom_configured:
        log.warning(
            "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID or ZOOM_CLIENT_SECRET is not set (nor any app's "
            "credentials): events are stored, but follow-ups after *.ended fail until they are"
        )


def _where(runtime: Runtime) -> str:
    """The database as a URL that works from any directory, without its password (a relative
    SQLite path is made absolute: the default one depends on where the command starts)."""
    url = runtime.engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        url = url.set(database=str(Path(url.database or "").resolve()))
    return url.render_as_string(hide_password=True)


def _start_probe(port: int, make: Callable[[int], ProbeServer]) -> ProbeServer:
    try:
        probe = make(port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot open the ops port {port} ({exc.strerror}): give another with --ops-port"
        ) from None
    probe.start()
    return probe


def _run_http(runtime: Runtime, host: str, port: int, ops: Ops) -> None:
    database = _where(runtime)
    config = uvicorn.Config(
        runtime.web_app(),
        host=host,
        port=port,
        # One line per webhook comes from the ingestor; uvicorn's access log would double it.
        access_log=False,
        log_config=None,
        # X-Forwarded-* from the proxies in FORWARDED_ALLOW_IPS (uvicorn's own variable).
        proxy_headers=True,
        # httptools, with a response's head and body sent as one write (service/web/corked.py).
        http=CorkedHttpToolsProtocol,
        timeout_graceful_shutdown=DEFAULT_GRACEFUL_SHUTDOWN,
    )
    server = uvicorn.Server(config)
    probe = _start_probe(
        ops.port,
        lambda p: runtime.ops_server(
            p,
            host if ops.host is None else ops.host,
            serving=lambda: server.started and not server.should_exit,
        ),
    )
    log.info(
        "zoomhooks serving webhooks on http://%s:%s, /metrics and /readyz on %s "
        "(database: %s, broker: %s)",
        host,
        port,
        probe.url,
        database,
        brokers.kind(runtime.broker),
    )
    # Everything built so far (the app, SQLAlchemy's metadata and caches, imported modules)
    # lives as long as the process: keep the cyclic collector from scanning it again and again
    # under load.
    gc.freeze()
    try:
        server.run()
    finally:
        probe.close()


@dataclass(frozen=True)
class Ops:
    port: int
    host: str | None


host_option = click.option(
    "--host", default=DEFAULT_HOST, show_default=True, help="Interface of the webhook port."
)
port_option = click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="The public port: POST /webhooks/zoom[/APP] and GET /healthz, nothing else.",
)


def ops_options(command: Callable[..., None]) -> Callable[..., None]:
    """`--ops-port`/`--ops-host` of the HTTP roles, handed to the command as one `ops`."""

    @functools.wraps(command)
    def wrapper(*args: Any, ops_port: int, ops_host: str | None, **kwargs: Any) -> None:
        command(*args, ops=Ops(ops_port, ops_host), **kwargs)

    host = click.option(
        "--ops-host",
        envvar="ZOOMHOOKS_OPS_HOST",
        help="Interface of the ops port  [default: the --host one]",
    )
    port = click.option(
        "--ops-port",
        default=DEFAULT_OPS_PORT,
        show_default=True,
        envvar="ZOOMHOOKS_OPS_PORT",
        type=click.IntRange(0, 65535),
        help="The private ops port: GET /metrics, /readyz, /livez. Keep it off the internet.",
    )
    return port(host(wrapper))


@main.command()
@host_option
@port_option
@ops_options
@click.option(
    "--listen",
    "listen_too",
    is_flag=True,
    help="Also hold the apps' WebSocket subscriptions, as `zoomhooks listen` does.",
)
def serve(host: str, port: int, ops: Ops, listen_too: bool) -> None:
    """Migrate, then serve HTTP; without BROKER_URL also run the worker and sweeper in-process."""
    settings = boot.start()
    if listen_too:
        _need_subscriptions(settings)
    runtime = Runtime(settings)
    try:
        with _one_line_database_errors(runtime):
            migrations.upgrade(runtime.engine)
            _warn_about_missing_secrets(settings)
            if settings.embedded:
                runtime.start_embedded()
        if listen_too:
            runtime.start_listening()
        _run_http(runtime, host, port, ops)
    finally:
        runtime.close()


@main.command()
@host_option
@port_option
@ops_options
def web(host: str, port: int, ops: Ops) -> None:
    """Serve HTTP only, for a deployment with a real broker and separate workers.

    It does not migrate: run `zoomhooks migrate` once per deploy, before the web processes.
    """
    settings = boot.start()
    if settings.embedded:
        raise click.ClickException(
            "BROKER_URL is not set: nothing would process the events; use `zoomhooks serve` "
            "for the embedded default"
        )
    runtime = Runtime(settings)
    try:
        _warn_if_the_database_refuses(runtime)
        _warn_about_missing_secrets(settings)
        _run_http(runtime, host, port, ops)
    finally:
        runtime.close()


@main.command()
@click.option(
    "--sweeper/--no-sweeper",
    default=True,
    show_default=True,
    help="Also re-enqueue unfinished inbox rows periodically.",
)
@click.option(
    "--ops-port",
    "--metrics-port",
    "ops_port",
    type=click.IntRange(1, 65535),
    envvar=["ZOOMHOOKS_OPS_PORT", "ZOOMHOOKS_WORKER_METRICS_PORT"],
    help="Serve this process's /metrics and /livez on 0.0.0.0:PORT (none unless given).",
)
def worker(sweeper: bool, ops_port: int | None) -> None:
    """Consume the queues of a real broker (BROKER_URL) until SIGTERM."""
    settings = boot.start()
    if settings.embedded:
        raise click.ClickException(
            "BROKER_URL is not set: the embedded broker lives inside `zoomhooks serve`"
        )
    runtime = Runtime(settings)
    probe = None
    try:
        _warn_if_the_database_refuses(runtime)
        if ops_port is not None:
            probe = _start_probe(
                ops_port,
                lambda p: ProbeServer(
                    p,
                    metrics=metrics.Scrape(),
                    probes={"/livez": liveness(runtime.worker_problems)},
                ),
            )
        runtime.start_workers()
        if sweeper:
            runtime.start_sweeper()
        log.info("worker consuming %s", ", ".join(sorted(runtime.actors.queues)))
        _wait_for_signal()
        log.info("worker stopping")
    finally:
        runtime.close()
        if probe is not None:
            probe.close()


def _need_subscriptions(settings: Settings) -> None:
    if not settings.apps.subscriptions():
        raise click.ClickException(
            "no app has a WebSocket subscription: set ZOOM_WEBSOCKET_SUBSCRIPTION_ID (with the "
            "app's ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET), or subscription_id for "
            "an app of ZOOMHOOKS_CONFIG"
        )


@main.command()
@click.option(
    "--ops-port",
    "--probe-port",
    "ops_port",
    type=click.IntRange(1, 65535),
    envvar=["ZOOMHOOKS_OPS_PORT", "ZOOMHOOKS_LISTEN_PROBE_PORT"],
    help="Serve /metrics, /livez and /readyz on 0.0.0.0:PORT (none unless given).",
)
def listen(ops_port: int | None) -> None:
    """Receive events over the apps' Zoom WebSocket subscriptions, until SIGTERM.

    For when Zoom cannot reach a public HTTPS endpoint. Each event is committed to the inbox
    and processed exactly like a webhook. One listener holds each subscription cluster-wide
    (a lease in the database); others stand by and take over if it dies. With no BROKER_URL
    it also migrates and runs the workers and sweeper in-process, like `serve`.
    """
    settings = boot.start()
    _need_subscriptions(settings)
    runtime = Runtime(settings)
    probe = None
    try:
        with _one_line_database_errors(runtime):
            if settings.embedded:
                migrations.upgrade(runtime.engine)
                runtime.start_embedded()
        listeners = runtime.start_listening()
        if ops_port is not None:
            probe = _start_probe(
                ops_port,
                lambda p: ProbeServer(
                    p,
                    metrics=metrics.Scrape(),
                    probes={
                        "/livez": liveness(listeners.problems),
                        "/readyz": readiness(listeners.unready),
                    },
                ),
            )
        log.info(
            "listening to the WebSocket subscriptions of %s (%s)",
            ", ".join(app.name for app in settings.apps.subscriptions()),
            settings.zoom_websocket_url,
        )
        _wait_for_signal()
        log.info("listener stopping")
    finally:
        runtime.close()
        if probe is not None:
            probe.close()


@main.command()
@click.option("--loop", is_flag=True, help="Keep sweeping every ZOOMHOOKS_SWEEP_INTERVAL_SECONDS.")
def sweep(loop: bool) -> None:
    """Re-enqueue inbox rows left unfinished past their timeout."""
    settings = boot.start()
    if settings.embedded:
        raise click.ClickException(
            "BROKER_URL is not set: the embedded sweeper runs inside `zoomhooks serve`"
        )
    runtime = Runtime(settings)
    try:
        with _one_line_database_errors(runtime):
            click.echo(f"re-enqueued {runtime.sweeper.sweep()} inbox rows")
        if loop:
            runtime.start_sweeper()
            _wait_for_signal()
    finally:
        runtime.close()


@main.command()
@click.argument("event")
@click.option(
    "--url",
    default=f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/webhooks/zoom",
    show_default=True,
    help="The webhook endpoint of the deployment to check.",
)
@click.option(
    "--secret",
    envvar="ZOOM_WEBHOOK_SECRET_TOKEN",
    help="Secret token to sign with [default: ZOOM_WEBHOOK_SECRET_TOKEN, its first entry].",
)
def send(event: str, url: str, secret: str | None) -> None:
    """Sign and send a realistic Zoom event: a bundled one by type, or a JSON file.

    EVENT is a bundled sample by type (webinar.ended, meeting.participant_joined, ...) or the
    path of a JSON file with an `event` key. `event_ts` is set to now, so each send is new.
    """
    if not secret or not secret.split(",")[0].strip():
        raise click.ClickException("give --secret or set ZOOM_WEBHOOK_SECRET_TOKEN")
    try:
        data = sender.load(event)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    sent = sender.delivery(data, secret=secret.split(",")[0].strip())
    try:
        response = sender.post(url, sent)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"could not reach {url}: {exc}") from None
    click.echo(f"{data['event']} -> {url}: HTTP {response.status_code} {response.text.strip()}")
    if not response.is_success:
        sys.exit(1)


@main.command()
@host_option
@port_option
@ops_options
def dev(host: str, port: int, ops: Ops) -> None:
    """The embedded service with a local fake Zoom API: the whole flow, no Zoom account."""
    from service.devtools import dev as devtools

    explicit = boot.load_settings().model_fields_set
    with devtools.fake_zoom() as fake:
        overrides = devtools.settings_overrides(fake, explicit)
        settings = Settings(**{**overrides, "BROKER_URL": None})
        boot.configure_logging(settings)
        runtime = Runtime(settings)
        try:
            migrations.upgrade(runtime.engine)
            runtime.start_embedded()
            secret = "(yours)" if "webhook_secret_token" in explicit else devtools.DEV_SECRET
            database = _where(runtime)
            click.echo(
                f"\nzoomhooks dev: fake Zoom at {fake.base_url}, database {database}\n"
                f"In another terminal, end the sample webinar and watch the tables fill:\n"
                f"  zoomhooks send webinar.ended --url http://{host}:{port}/webhooks/zoom "
                f"--secret {secret}\n"
                f"The ops commands read DATABASE_URL; point them at this database (from any "
                f"directory):\n"
                f"  DATABASE_URL={database} zoomhooks stats\n"
            )
            _run_http(runtime, host, port, ops)
        finally:
            runtime.close()


for _command in ops.COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":
    sys.exit(main())
