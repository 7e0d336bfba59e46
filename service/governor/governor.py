"""The cluster-wide Zoom rate governor: every worker's calls, paced per account and category.

Zoom's limits are per account and category and shared by every app and process on the
account, so the pace lives in a shared `StateStore`, one record per account and category (the
next free slot, and any slowdown after a 429) and one per account and daily cap. A call sleeps
for its slot when it is near; when it is further off than `max_sleep`, the governor raises
`Throttled` and the job waits as a delayed message instead, spending no attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from service import metrics
from service.zoom import Outcome, RateLimitCategory, Throttled, ZoomAPIError
from service.zoom.ratelimit import daily_park_delay

from . import pace
from .plans import Budget
from .store import Change, StateStore, T

log = logging.getLogger(__name__)

#: Longest a worker thread sleeps for its slot; a longer wait becomes a delayed message
#: (seconds). Short enough to keep threads free, long enough that a paginated listing is not
#: abandoned (its page token lives 15 minutes) for an ordinary wait.
DEFAULT_MAX_SLEEP = 10.0
#: A call that reaches its slot later than this (a slow store, a stalled process) lets the
#: slot go and takes the next one: going late would bunch it with the calls behind it, and the
#: spacing margin only absorbs so much lateness (seconds).
DEFAULT_LATE_TOLERANCE = 0.05
#: Slots let go in a row before a call goes late anyway, with a warning (the machine or the
#: store is too slow to keep the pace now).
DEFAULT_MAX_MISSED_SLOTS = 3


class Governor:
    def __init__(
        self,
        store: StateStore,
        budgets: Mapping[str, Budget],
        *,
        default: Budget,
        max_sleep: float = DEFAULT_MAX_SLEEP,
        late_tolerance: float = DEFAULT_LATE_TOLERANCE,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`budgets` by account id; `default` for accounts not named there."""
        self.store = store
        self.budgets = dict(budgets)
        self.default = default
        self.max_sleep = max_sleep
        self.late_tolerance = late_tolerance
        self._clock = clock
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"<Governor {self.store!r} accounts={len(self.budgets)}>"

    def budget(self, account_id: str) -> Budget:
        return self.budgets.get(account_id, self.default)

    def pacer(self, account_id: str) -> AccountPacer:
        return AccountPacer(self, account_id)

    def acquire(self, account_id: str, category_name: str) -> None:
        """Return when a call may go (after sleeping for its slot), or raise `Throttled`."""
        category = RateLimitCategory.parse(category_name)
        if category is None:
            return
        budget = self.budget(account_id)
        labels = (account_id, category.value)
        slot = self._slot(account_id, category, budget)
        # The daily count is taken while the slot approaches, not after it: between the slot
        # and the call there must be nothing but the sleep. A refusal leaves the slot unused.
        cap = budget.daily.get(category)
        if cap is not None:
            day = datetime.fromtimestamp(self._clock(), UTC).date().toordinal()
            allowed = self._update(
                _daily_key(account_id, cap.group),
                lambda state: _take_daily(state, day=day, cap=cap.calls),
            )
            if not allowed:
                metrics.GOVERNOR_DEFERRED.labels(*labels, "daily").inc()
                raise Throttled(
                    daily_park_delay(self._clock()),
                    category.value,
                    daily=True,
                    advice=f"Account {account_id} has spent its daily {cap.group} budget "
                    f"({cap.calls} calls, {budget.share:.0%} of the plan's cap); the job waits "
                    "for 00:00 UTC.",
                )
        for missed in range(DEFAULT_MAX_MISSED_SLOTS + 1):
            if slot.wait > 0:
                metrics.GOVERNOR_WAIT.labels(*labels).observe(slot.wait)
            # Until the slot's moment, however long the store took to answer.
            remaining = slot.at - self._clock()
            if remaining > 0:
                self._sleep(remaining)
            late = self._clock() - slot.at
            if late <= self.late_tolerance:
                return
            if missed == DEFAULT_MAX_MISSED_SLOTS:
                break
            metrics.GOVERNOR_MISSED.labels(*labels).inc()
            slot = self._slot(account_id, category, budget)
        # Deferring now would restart the job's listing from its first page, spending more of
        # the budget than one late call does.
        log.warning(
            "%s call of account %s goes %.0f ms after its slot: %d slots in a row were reached "
            "late (a slow rate-limit store or an overloaded worker)",
            category.value,
            account_id,
            late * 1000,
            DEFAULT_MAX_MISSED_SLOTS + 1,
        )

    def _slot(self, account_id: str, category: RateLimitCategory, budget: Budget) -> pace.Slot:
        """Reserve the next slot of the shared pace, or raise `Throttled` when it is too far."""
        slot = self._update(
            _pace_key(account_id, category),
            lambda state: _reserve(
                state,
                now=self._clock(),
                interval=budget.interval(category),
                max_wait=self.max_sleep,
            ),
        )
        labels = (account_id, category.value)
        metrics.GOVERNOR_RATE.labels(*labels).set(1.0 / slot.interval)
        if not slot.taken:
            metrics.GOVERNOR_DEFERRED.labels(*labels, "pace").inc()
            raise Throttled(
                slot.wait,
                category.value,
                daily=False,
                advice=f"The {category.value} budget of account {account_id} "
                f"({budget.rates[category]:g}/s, {budget.describe()}) is taken for the next "
                f"{slot.wait:.0f}s; the job waits.",
            )
        return slot

    def rate_limited(
        self, account_id: str, category_name: str, retry_after: float, *, daily: bool
    ) -> None:
        """Zoom answered 429 anyway: hold everyone back, and slow this account and category."""
        category = RateLimitCategory.parse(category_name)
        if category is None:
            return
        now = self._clock()
        try:
            self.store.update(
                _pace_key(account_id, category),
                lambda state: _slow_down(state, now=now, retry_after=retry_after),
            )
            cap = self.budget(account_id).daily.get(category)
            if daily and cap is not None:
                day = datetime.fromtimestamp(now, UTC).date().toordinal()
                self.store.update(
                    _daily_key(account_id, cap.group),
                    lambda state: _spend_daily(state, day=day, cap=cap.calls),
                )
        except Exception:
            log.warning("the rate governor could not record a 429", exc_info=True)
            return
        metrics.GOVERNOR_SLOWDOWNS.labels(account_id, category.value).inc()
        log.info(
            "zoom 429 for account %s, %s: calls held %.1fs, then slowed for %.0fs",
            account_id,
            category.value,
            retry_after,
            pace.DEFAULT_SLOW_HOLD,
        )

    def _update(self, key: str, change: Change[T]) -> T:
        try:
            return self.store.update(key, change)
        except Exception as exc:
            # Without the shared pace, calling anyway could breach the account's limits for
            # every other integration on it: the job is retried later instead.
            raise ZoomAPIError(
                Outcome.TRANSIENT,
                f"The rate governor's store is unavailable ({type(exc).__name__}); retried later.",
                endpoint="governor",
            ) from exc


class AccountPacer:
    """The governor bound to one account: what a `ZoomClient` is given (`service.zoom.Pacer`)."""

    def __init__(self, governor: Governor, account_id: str) -> None:
        self.governor = governor
        self.account_id = account_id

    def __repr__(self) -> str:
        return f"<AccountPacer {self.account_id}>"

    def acquire(self, category: str) -> None:
        self.governor.acquire(self.account_id, category)

    def rate_limited(self, category: str, retry_after: float, *, daily: bool) -> None:
        self.governor.rate_limited(self.account_id, category, retry_after, daily=daily)


def _pace_key(account_id: str, category: RateLimitCategory) -> str:
    return f"pace:{account_id}:{category.value}"


def _daily_key(account_id: str, group: str) -> str:
    return f"daily:{account_id}:{group}"


def _reserve(
    state: pace.State | None, *, now: float, interval: float, max_wait: float
) -> tuple[dict[str, float], pace.Slot]:
    new, slot = pace.reserve(
        pace.Pace.from_state(state), now=now, interval=interval, max_wait=max_wait
    )
    return new.to_state(), slot


def _slow_down(
    state: pace.State | None, *, now: float, retry_after: float
) -> tuple[dict[str, float], None]:
    return pace.slow_down(
        pace.Pace.from_state(state), now=now, retry_after=retry_after
    ).to_state(), None


def _take_daily(state: pace.State | None, *, day: int, cap: int) -> tuple[dict[str, float], bool]:
    new, allowed = pace.take_daily(pace.DayCount.from_state(state), day=day, cap=cap)
    return new.to_state(), allowed


def _spend_daily(state: pace.State | None, *, day: int, cap: int) -> tuple[dict[str, float], None]:
    return pace.spend_daily(pace.DayCount.from_state(state), day=day, cap=cap).to_state(), None
