"""Prometheus metrics. Counters live in this process; depths come from the database at scrape.

Every process exposes its own: `serve`/`web` at `GET /metrics`, `worker` on `--metrics-port`.
Nothing is shared between processes, so no multiprocess directory is needed: Prometheus scrapes
each pod and sums. The database-backed gauges (backlog, oldest unfinished, jobs by state) are
the same from any process, so alert on them from one scrape target (`max by ()`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOKS_RECEIVED = Counter(
    "zoomhooks_webhooks_received_total",
    "Deliveries stored as new events.",
    ["event"],
    registry=REGISTRY,
)
WEBHOOKS_DUPLICATE = Counter(
    "zoomhooks_webhooks_duplicate_total",
    "Redeliveries of events already stored.",
    ["event"],
    registry=REGISTRY,
)
WEBHOOKS_REJECTED = Counter(
    "zoomhooks_webhooks_rejected_total",
    "Deliveries refused: signature (401), not_an_event (400), too_large (413), "
    "unavailable / not_configured (503).",
    ["reason"],
    registry=REGISTRY,
)
INGEST_SECONDS = Histogram(
    "zoomhooks_ingest_seconds",
    "Time from request to answer at the webhook endpoint (Zoom allows 3 s).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
    registry=REGISTRY,
)
EVENTS_PROCESSED = Counter(
    "zoomhooks_events_processed_total",
    "Inbox rows processed, by outcome (done, ignored, failed, retry).",
    ["event", "outcome"],
    registry=REGISTRY,
)
FOLLOWUPS = Counter(
    "zoomhooks_followups_total",
    "Follow-up job runs, by outcome (done, not_ready, rate_limited, retry, failed, "
    "not_applicable).",
    ["resource", "outcome"],
    registry=REGISTRY,
)
ZOOM_REQUESTS = Counter(
    "zoomhooks_zoom_requests_total",
    "Requests to Zoom (API and OAuth), by endpoint, rate-limit category and HTTP status "
    "('error' when the network failed).",
    ["endpoint", "category", "status"],
    registry=REGISTRY,
)
TOKEN_RENEWALS = Counter(
    "zoomhooks_zoom_token_renewals_total",
    "Access tokens fetched from Zoom's OAuth endpoint.",
    registry=REGISTRY,
)
DEFERRALS = Counter(
    "zoomhooks_deferrals_total",
    "Times background work waited for deliveries in flight (embedded mode).",
    registry=REGISTRY,
)


def exposition(*extra: Collector) -> bytes:
    """This process's counters, then whatever `extra` collectors report (table gauges)."""
    text = generate_latest(REGISTRY)
    if extra:
        more = CollectorRegistry(auto_describe=False)
        for collector in extra:
            more.register(collector)
        text += generate_latest(more)
    return text


# Labelled series exist only after their first increment, and rate() cannot see that one:
# create the known ones at zero, so the first 503 or failed job already moves an alert.
for _reason in ("signature", "not_an_event", "too_large", "unavailable", "not_configured"):
    WEBHOOKS_REJECTED.labels(reason=_reason)
for _resource in ("participants", "absentees", "qa", "polls"):
    for _outcome in ("done", "not_ready", "rate_limited", "retry", "failed", "not_applicable"):
        FOLLOWUPS.labels(resource=_resource, outcome=_outcome)
