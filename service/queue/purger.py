"""The scheduled purge: deletes rows past their retention every so often (when configured)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from service.periodic import Periodic
from service.storage import retention
from service.storage.types import utcnow

log = logging.getLogger(__name__)


class Purger(Periodic):
    name = "zoomhooks-purger"

    def __init__(self, engine: Engine, ages: retention.Ages, *, interval_seconds: float) -> None:
        super().__init__(interval_seconds)
        self.engine = engine
        self.ages = ages

    def tick(self) -> dict[str, int]:
        deleted = retention.purge(self.engine, self.ages.cutoffs(utcnow()))
        if any(deleted.values()):
            log.info("purged %s", ", ".join(f"{n} {t}" for t, n in deleted.items() if n))
        return deleted
