"""A daemon thread that does one thing every few seconds until it is stopped."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


class Periodic:
    """Calls `tick` every `interval_seconds`. A database error in one tick is a warning (the
    next tick tries again); anything else is logged with its traceback."""

    name = "zoomhooks-periodic"

    def __init__(
        self, interval_seconds: float, *, first_after_seconds: float | None = None
    ) -> None:
        self.interval_seconds = interval_seconds
        #: The first tick comes this soon after start (default: one interval).
        self.first_after_seconds = (
            interval_seconds if first_after_seconds is None else first_after_seconds
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> object:
        raise NotImplementedError

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        wait = self.first_after_seconds
        while not self._stop.wait(wait):
            wait = self.interval_seconds
            try:
                self.tick()
            except SQLAlchemyError as exc:
                log.warning(
                    "%s failed (%s); next try in %ss",
                    self.name,
                    type(exc).__name__,
                    self.interval_seconds,
                )
            except Exception:
                log.exception("%s failed", self.name)
