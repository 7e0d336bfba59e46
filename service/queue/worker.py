"""Dramatiq worker threads, in their own process or inside the web process (embedded)."""

from __future__ import annotations

import logging

import dramatiq

log = logging.getLogger(__name__)

#: How long stopping waits for messages in flight before leaving them to redelivery (ms).
DEFAULT_SHUTDOWN_TIMEOUT = 30_000
#: How long a worker thread waits on an empty queue before checking for shutdown (ms).
DEFAULT_WORKER_TIMEOUT = 1_000


class Workers:
    def __init__(self, broker: dramatiq.Broker, queues: set[str], *, threads: int) -> None:
        self.queues = queues
        self.worker = dramatiq.Worker(
            broker, queues=queues, worker_threads=threads, worker_timeout=DEFAULT_WORKER_TIMEOUT
        )

    def start(self) -> None:
        self.worker.start()
        log.info("worker threads started on %s", ", ".join(sorted(self.queues)))

    def stop(self, timeout_ms: int = DEFAULT_SHUTDOWN_TIMEOUT) -> None:
        self.worker.stop(timeout=timeout_ms)
