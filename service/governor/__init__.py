"""The cluster-wide Zoom rate governor: plans and budgets, the pace arithmetic, shared stores.

Pure parts — `plans`, `pace` — do no I/O; `store` (memory), `redis` and
`service.storage.ratestate` (the database) keep the shared state; `governor` ties them together
for the Zoom client.
"""

from .governor import DEFAULT_MAX_SLEEP, AccountPacer, Governor
from .plans import DEFAULT_SHARE, Budget, DailyCap, Plan, budget, budget_for
from .store import MemoryStateStore, StateStore

__all__ = [
    "DEFAULT_MAX_SLEEP",
    "DEFAULT_SHARE",
    "AccountPacer",
    "Budget",
    "DailyCap",
    "Governor",
    "MemoryStateStore",
    "Plan",
    "StateStore",
    "budget",
    "budget_for",
]
