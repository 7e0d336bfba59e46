"""Prometheus metrics. Counters live in this process; depths come from the database at scrape.

Every process exposes its own at `GET /metrics` on its ops port (`--ops-port`, `service.probe`).
Nothing is shared between processes, so no multiprocess directory is needed: Prometheus scrapes
each pod and sums. The database-backed gauges (backlog, oldest unfinished, jobs by state) are
the same from any process, so alert on them from one scrape target (`max by ()`).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
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
    "Deliveries refused: signature (401), not_an_event (400), unknown_app (404), too_large "
    "(413), unavailable / not_configured (503).",
    ["reason"],
    registry=REGISTRY,
)
INGEST_SECONDS = Histogram(
    "zoomhooks_ingest_seconds",
    "Time from request to answer at the webhook endpoint (Zoom allows 3 s).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
    registry=REGISTRY,
)
FOLLOWUPS_REFUSED = Counter(
    "zoomhooks_followups_refused_total",
    "Follow-ups refused because their event names an account that the app which verified it "
    "does not serve (a misconfiguration, or a leaked secret token).",
    ["app"],
    registry=REGISTRY,
)
INBOX_BATCH = Histogram(
    "zoomhooks_inbox_batch_deliveries",
    "Deliveries per group commit of the inbox (one transaction, one fsync each).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
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
    "Follow-up job runs, by outcome (done, not_ready, rate_limited, throttled (by the "
    "governor), retry, failed, not_applicable).",
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
RECORDING_DOWNLOADS = Counter(
    "zoomhooks_recording_downloads_total",
    "Recording file download attempts, by outcome (done, retry, failed).",
    ["outcome"],
    registry=REGISTRY,
)
RECORDING_BYTES = Counter(
    "zoomhooks_recording_download_bytes_total",
    "Bytes of recording files downloaded from Zoom and written to storage.",
    registry=REGISTRY,
)
TOKEN_RENEWALS = Counter(
    "zoomhooks_zoom_token_renewals_total",
    "Access tokens fetched from Zoom's OAuth endpoint.",
    registry=REGISTRY,
)


class Scrape:
    """What one `/metrics` answer renders: this process's counters, then whatever `extra`
    collectors report (table gauges). One collector, so every exposition format (Prometheus
    text, OpenMetrics with its single `# EOF`) renders it whole."""

    def __init__(self, *extra: Collector) -> None:
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        for collector in self.extra:
            yield from collector.collect()


# Labelled series exist only after their first increment, and rate() cannot see that one:
# create the known ones at zero, so the first 503 or failed job already moves an alert.
for _reason in (
    "signature",
    "not_an_event",
    "unknown_app",
    "too_large",
    "unavailable",
    "not_configured",
):
    WEBHOOKS_REJECTED.labels(reason=_reason)
for _resource in (
    "participants",
    "absentees",
    "qa",
    "polls",
    "registrants",
    "report",
    "details",
    "recordings",
):
    for _outcome in (
        "done",
        "not_ready",
        "rate_limited",
        "throttled",
        "retry",
        "failed",
        "not_applicable",
    ):
        FOLLOWUPS.labels(resource=_resource, outcome=_outcome)
ACTIONS = Counter(
    "zoomhooks_actions_total",
    "Write-side action runs (ZOOMHOOKS_CONFIG [[apps.NAME.actions]]), by kind and outcome: "
    "done, dry_run, refused (Zoom's permission error: a person must grant something; the "
    "job's `fix` says what), failed (other final errors), retry, rate_limited.",
    ["kind", "outcome"],
    registry=REGISTRY,
)
for _kind in ("registrant.approve", "registrant.deny", "meeting.schedule_for"):
    for _outcome in ("done", "dry_run", "refused", "failed", "retry", "rate_limited"):
        ACTIONS.labels(kind=_kind, outcome=_outcome)
GOVERNOR_RATE = Gauge(
    "zoomhooks_governor_rate",
    "Zoom calls per second the governor allows now, by account and rate-limit category "
    "(lower than the budget while slowed after a 429).",
    ["account_id", "category"],
    registry=REGISTRY,
)
GOVERNOR_WAIT = Histogram(
    "zoomhooks_governor_wait_seconds",
    "How long calls slept for their slot in the governor's pace.",
    ["account_id", "category"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
GOVERNOR_DEFERRED = Counter(
    "zoomhooks_governor_deferred_total",
    "Jobs the governor sent back to wait as a delayed message: pace (the next slot was too far "
    "off) or daily (the day's budget is spent).",
    ["account_id", "category", "reason"],
    registry=REGISTRY,
)
GOVERNOR_MISSED = Counter(
    "zoomhooks_governor_missed_slots_total",
    "Slots let go because the call reached them too late (a slow store or a stalled worker); "
    "the call took the next slot instead of bunching with the calls behind it.",
    ["account_id", "category"],
    registry=REGISTRY,
)
GOVERNOR_SLOWDOWNS = Counter(
    "zoomhooks_governor_slowdowns_total",
    "429s from Zoom that slowed the governor's pace for an account and category.",
    ["account_id", "category"],
    registry=REGISTRY,
)
LISTENER_CONNECTED = Gauge(
    "zoomhooks_listener_connected",
    "1 while this process has the app's WebSocket subscription open (zoomhooks listen).",
    ["app"],
    registry=REGISTRY,
)
LISTENER_LEASE = Gauge(
    "zoomhooks_listener_lease_held",
    "1 while this process holds the app's subscription lease (0: on standby).",
    ["app"],
    registry=REGISTRY,
)
LISTENER_LAST_FRAME_AGE = Gauge(
    "zoomhooks_listener_last_frame_age_seconds",
    "Seconds since Zoom's last frame (heartbeat answers included) on this process's socket; "
    "NaN without one.",
    ["app"],
    registry=REGISTRY,
)
LISTENER_RECONNECTS = Counter(
    "zoomhooks_listener_reconnects_total",
    "WebSocket connections ended or failed, by reason: closed (by Zoom or the network), "
    "heartbeat (no answer), token (refused), refused, error (unreachable, no token), rotation "
    "(a planned switch to a renewed token, without a gap).",
    ["app", "reason"],
    registry=REGISTRY,
)
LISTENER_EVENTS = Counter(
    "zoomhooks_listener_events_total",
    "Events received over WebSocket: stored (new), duplicate (already in the inbox, e.g. by "
    "webhook), rejected (not an event; logged).",
    ["app", "outcome"],
    registry=REGISTRY,
)
LISTENER_GAPS = Counter(
    "zoomhooks_listener_gaps_total",
    "Disconnect windows recorded to be reconciled against Zoom's past instances.",
    ["app"],
    registry=REGISTRY,
)
GAP_RECONCILES = Counter(
    "zoomhooks_listener_gap_reconciles_total",
    "Reconcile attempts of disconnect windows, by outcome: done, retry, failed.",
    ["outcome"],
    registry=REGISTRY,
)
for _outcome in ("done", "retry", "failed"):
    GAP_RECONCILES.labels(outcome=_outcome)
