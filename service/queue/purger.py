"""The scheduled purge: deletes rows past their retention every so often (when configured)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Engine

from service.periodic import Periodic
from service.storage import retention
from service.storage.types import utcnow

log = logging.getLogger(__name__)


class Purger(Periodic):
    name = "zoomhooks-purger"

    def __init__(
        self,
        engine: Engine,
        *,
        events: timedelta | None,
        timeline: timedelta | None,
        interval_seconds: float,
    ) -> None:
        super().__init__(interval_seconds)
        self.engine = engine
        self.events = events
        self.timeline = timeline

    def tick(self) -> dict[str, int]:
        now = utcnow()
        cutoffs = retention.Cutoffs(
            events=now - self.events if self.events else None,
            timeline=now - self.timeline if self.timeline else None,
        )
        deleted = retention.purge(self.engine, cutoffs)
        if any(deleted.values()):
            log.info("purged %s", ", ".join(f"{n} {t}" for t, n in deleted.items()))
        return deleted
