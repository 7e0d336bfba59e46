"""The worker's probe port: Prometheus text at /metrics, and /livez from the liveness check."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from service import metrics
from service.queue.probe import ProbeServer


@pytest.fixture
def problems() -> list[str]:
    return []


@pytest.fixture
def probe(problems: list[str]) -> Iterator[str]:
    registry = CollectorRegistry()
    Counter("probe_test_total", "A counter.", registry=registry).inc(3)
    server = ProbeServer(0, registry=registry, problems=lambda: list(problems), host="127.0.0.1")
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.close()


def test_metrics_are_served_as_prometheus_text(probe: str) -> None:
    response = httpx.get(probe + "/metrics", timeout=5)
    assert response.status_code == 200
    assert "probe_test_total 3.0" in response.text


def test_livez_says_live_then_names_what_wedged_the_worker(probe: str, problems: list[str]) -> None:
    live = httpx.get(probe + "/livez", timeout=5)
    assert (live.status_code, live.json()) == (200, {"status": "live"})
    problems.append("run_followup message m1 has made no progress for 700 s")
    wedged = httpx.get(probe + "/livez", timeout=5)
    assert wedged.status_code == 503
    assert wedged.json() == {"status": "wedged", "problems": problems}


def test_readiness_is_served_when_the_process_has_a_notion_of_it() -> None:
    unready: list[str] = []
    probe = ProbeServer(
        0,
        registry=metrics.REGISTRY,
        problems=list,
        unready=lambda: list(unready),
        host="127.0.0.1",
    )
    probe.start()
    try:
        url = f"http://127.0.0.1:{probe.port}"
        assert httpx.get(f"{url}/readyz").json() == {"status": "ready"}
        unready.append("app a: connecting")
        answer = httpx.get(f"{url}/readyz")
        assert answer.status_code == 503
        assert answer.json() == {"status": "not ready", "problems": ["app a: connecting"]}
        assert httpx.get(f"{url}/livez").status_code == 200
    finally:
        probe.close()
