"""Logging set-up. Secrets never reach a log line: Settings keeps them as SecretStr."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure(level: str) -> None:
    logging.basicConfig(level=level, format=FORMAT, force=True)
    # Dramatiq and pika are chatty at INFO about connections; their warnings still show.
    for noisy in ("pika", "dramatiq.worker.ConsumerThread"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
