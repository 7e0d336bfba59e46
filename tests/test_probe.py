"""The ops port: Prometheus text at /metrics, and /livez and /readyz from the process's probes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from service.probe import ProbeServer, liveness, readiness
from service.readiness import NotReady, Readiness


@pytest.fixture
def problems() -> list[str]:
    return []


@pytest.fixture
def unready() -> list[str]:
    return []


@pytest.fixture
def probe(problems: list[str], unready: list[str]) -> Iterator[str]:
    registry = CollectorRegistry()
    Counter("probe_test_total", "A counter.", registry=registry).inc(3)
    server = ProbeServer(
        0,
        metrics=registry,
        probes={
            "/livez": liveness(lambda: list(problems)),
            "/readyz": readiness(lambda: list(unready)),
        },
        host="127.0.0.1",
    )
    server.start()
    try:
        yield server.url
    finally:
        server.close()


def test_metrics_are_served_as_prometheus_text(probe: str) -> None:
    response = httpx.get(probe + "/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "probe_test_total 3.0" in response.text


def test_prometheus_gets_openmetrics_and_gzip_when_it_asks(probe: str) -> None:
    response = httpx.get(
        probe + "/metrics",
        headers={
            "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
            "Accept-Encoding": "gzip",
        },
        timeout=5,
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < len(response.content)  # decoded by httpx
    assert "probe_test_total 3.0" in response.text
    assert response.text.endswith("# EOF\n")


def test_livez_says_live_then_names_what_wedged_the_worker(probe: str, problems: list[str]) -> None:
    live = httpx.get(probe + "/livez", timeout=5)
    assert (live.status_code, live.json()) == (200, {"status": "live"})
    problems.append("run_followup message m1 has made no progress for 700 s")
    wedged = httpx.get(probe + "/livez", timeout=5)
    assert wedged.status_code == 503
    assert wedged.json() == {"status": "wedged", "problems": problems}


def test_readyz_names_what_is_not_ready(probe: str, unready: list[str]) -> None:
    assert httpx.get(f"{probe}/readyz").json() == {"status": "ready"}
    unready.append("app a: connecting")
    answer = httpx.get(f"{probe}/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "not ready", "problems": ["app a: connecting"]}
    assert httpx.get(f"{probe}/livez").status_code == 200


def test_unknown_paths_are_404_and_only_reads_are_allowed(probe: str) -> None:
    missing = httpx.get(f"{probe}/webhooks/zoom")
    assert missing.status_code == 404
    assert "/metrics" in missing.json()["error"]
    assert httpx.post(f"{probe}/metrics", content=b"x").status_code == 405


def test_a_process_without_readiness_has_no_readyz() -> None:
    server = ProbeServer(
        0, metrics=CollectorRegistry(), probes={"/livez": liveness(list)}, host="127.0.0.1"
    )
    server.start()
    try:
        assert httpx.get(f"{server.url}/readyz").status_code == 404
        assert httpx.get(f"{server.url}/livez").status_code == 200
    finally:
        server.close()


def broken() -> None:
    raise RuntimeError("password=hunter2 at db.internal")


def refused() -> None:
    raise NotReady("ZOOM_WEBHOOK_SECRET_TOKEN is not set")


def test_readiness_runs_every_check_and_names_the_failing_ones() -> None:
    verdict = Readiness({"database": lambda: None, "webhook_secret": refused})()
    assert verdict == (
        False,
        {
            "status": "unavailable",
            "checks": {
                "database": "ok",
                "webhook_secret": "unavailable: ZOOM_WEBHOOK_SECRET_TOKEN is not set",
            },
        },
    )


def test_a_check_error_shows_only_its_type_never_its_message() -> None:
    ready, body = Readiness({"database": broken})()
    assert not ready
    assert body["checks"] == {"database": "unavailable: RuntimeError"}
    assert "hunter2" not in str(body)


def test_an_advisory_check_degrades_but_keeps_the_process_ready() -> None:
    ready, body = Readiness({"database": lambda: None, "broker": broken}, advisory={"broker"})()
    assert ready
    assert body["status"] == "degraded"
    assert Readiness({"database": lambda: None}, advisory={"broker"})() == (
        True,
        {"status": "ready", "checks": {"database": "ok"}},
    )


@pytest.mark.parametrize(
    "accept", ["application/openmetrics-text; version=abc", "text/plain;version=x.y"]
)
def test_a_malformed_accept_gets_the_default_text_format(probe: str, accept: str) -> None:
    response = httpx.get(probe + "/metrics", headers={"Accept": accept}, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "probe_test_total 3.0" in response.text
