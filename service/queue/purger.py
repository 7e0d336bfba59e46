"""The scheduled purge: deletes rows past their retention every so often (when configured)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from service.periodic import Periodic
from service.storage import retention
from service.storage.types import utcnow

log = logging.getLogger(__name__)

#: The first purge comes this soon after start, not a whole interval later: a process restarted
#: more often than daily would otherwise never purge on a daily interval.
DEFAULT_FIRST_PURGE_AFTER_SECONDS = 60.0


class Purger(Periodic):
    name = "zoomhooks-purger"

    def __init__(
        self,
        engine: Engine,
        ages: retention.Ages,
        *,
        interval_seconds: float,
        first_after_seconds: float = DEFAULT_FIRST_PURGE_AFTER_SECONDS,
    ) -> None:
        super().__init__(
            interval_seconds, first_after_seconds=min(first_after_seconds, interval_seconds)
        )
        self.engine = engine
        self.ages = ages

    def tick(self) -> dict[str, int]:
        deleted = retention.purge(self.engine, self.ages.cutoffs(utcnow()))
        if any(deleted.values()):
            log.info("purged %s", ", ".join(f"{n} {t}" for t, n in deleted.items() if n))
        return deleted
