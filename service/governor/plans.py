"""Zoom's per-account rate limits by plan, and the share of them this deployment may use.

Limits are per account, shared by every app installed on it, and grouped by each endpoint's
"Rate Limit Label". From https://developers.zoom.us/docs/api/rate-limits/ (Meetings API table):

| Category           | Free                | Pro      | Business+ |
|--------------------|---------------------|----------|-----------|
| Light              | 4/s, 6,000/day      | 30/s     | 80/s      |
| Medium             | 2/s, 2,000/day      | 20/s     | 60/s      |
| Heavy              | 1/s, 1,000/day      | 10/s (*) | 40/s (*)  |
| Resource-intensive | 10/min, 30,000/day  | 10/min(*)| 20/min (*)|

(*) Heavy and Resource-intensive share one daily cap: 30,000 (Pro) or 60,000 (Business+).
Business+ covers Business, Education, Enterprise and Partner accounts. Pure data, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from service.apps import Limits
from service.zoom.ratelimit import RateLimitCategory

LIGHT = RateLimitCategory.LIGHT
MEDIUM = RateLimitCategory.MEDIUM
HEAVY = RateLimitCategory.HEAVY
RESOURCE_INTENSIVE = RateLimitCategory.RESOURCE_INTENSIVE

#: The share of the account's limits zoomhooks takes, so other integrations keep headroom.
DEFAULT_SHARE = 0.5
#: Calls are spaced this much wider than the budget alone asks (a factor on the interval).
#: Between taking a slot and Zoom counting the call lie a thread's wake-up and a network hop;
#: budget + 1 calls span `margin` seconds, so a call may arrive up to (margin - 1) s late, at
#: any rate, before one second holds more than the budget. 1.1 left 100 ms, and CI's loaded
#: machine once put 5 calls in a second of a 4/s budget; 1.25 leaves 250 ms.
DEFAULT_SPACING_MARGIN = 1.25


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"
    BUSINESS = "business"  # Business, Education, Enterprise, Partner: "Business+"


@dataclass(frozen=True, slots=True)
class Rate:
    calls: float
    per_seconds: float

    @property
    def per_second(self) -> float:
        return self.calls / self.per_seconds


_S, _MIN = 1.0, 60.0
RATES: Mapping[Plan, Mapping[RateLimitCategory, Rate]] = {
    Plan.FREE: {
        LIGHT: Rate(4, _S),
        MEDIUM: Rate(2, _S),
        HEAVY: Rate(1, _S),
        RESOURCE_INTENSIVE: Rate(10, _MIN),
    },
    Plan.PRO: {
        LIGHT: Rate(30, _S),
        MEDIUM: Rate(20, _S),
        HEAVY: Rate(10, _S),
        RESOURCE_INTENSIVE: Rate(10, _MIN),
    },
    Plan.BUSINESS: {
        LIGHT: Rate(80, _S),
        MEDIUM: Rate(60, _S),
        HEAVY: Rate(40, _S),
        RESOURCE_INTENSIVE: Rate(20, _MIN),
    },
}

#: Daily caps: (categories that share the cap, calls per UTC day).
DAILY: Mapping[Plan, tuple[tuple[tuple[RateLimitCategory, ...], int], ...]] = {
    Plan.FREE: (
        ((LIGHT,), 6_000),
        ((MEDIUM,), 2_000),
        ((HEAVY,), 1_000),
        ((RESOURCE_INTENSIVE,), 30_000),
    ),
    Plan.PRO: (((HEAVY, RESOURCE_INTENSIVE), 30_000),),
    Plan.BUSINESS: (((HEAVY, RESOURCE_INTENSIVE), 60_000),),
}


@dataclass(frozen=True, slots=True)
class DailyCap:
    #: Names the cap in state keys and metrics: the categories joined by "+".
    group: str
    calls: int


@dataclass(frozen=True, slots=True)
class Budget:
    """What one account may spend: a pace per category and the daily caps, after the share."""

    plan: Plan
    share: float
    #: Calls per second, by category, after the share.
    rates: Mapping[RateLimitCategory, float]
    #: The daily cap each category counts against, after the share.
    daily: Mapping[RateLimitCategory, DailyCap]
    margin: float = DEFAULT_SPACING_MARGIN

    def interval(self, category: RateLimitCategory) -> float:
        """Seconds between two calls of `category` (the margin included)."""
        return self.margin / self.rates[category]

    def describe(self) -> str:
        rates = ", ".join(f"{c.value} {r:g}/s" for c, r in self.rates.items())
        return f"{self.plan.value} plan at {self.share:.0%}: {rates}"


def budget(
    plan: Plan,
    share: float = DEFAULT_SHARE,
    *,
    daily_cap: int | None = None,
    margin: float = DEFAULT_SPACING_MARGIN,
) -> Budget:
    """The account's budget: `share` of its plan's limits. `daily_cap` overrides the plan's
    shared Heavy + Resource-intensive cap (Zoom raises it for some accounts)."""
    if not 0 < share <= 1:
        raise ValueError(f"the rate share must lie in (0, 1], not {share}")
    if daily_cap is not None and daily_cap < 1:
        raise ValueError("the daily cap must be at least 1")
    rates = {category: rate.per_second * share for category, rate in RATES[plan].items()}
    daily: dict[RateLimitCategory, DailyCap] = {}
    for categories, calls in DAILY[plan]:
        if daily_cap is not None and HEAVY in categories:
            calls = daily_cap
        cap = DailyCap("+".join(c.value for c in categories), max(1, int(calls * share)))
        for category in categories:
            daily[category] = cap
    return Budget(plan=plan, share=share, rates=rates, daily=daily, margin=margin)


def budget_for(limits: Limits) -> Budget:
    """The budget that an account's configured limits describe."""
    return budget(Plan(limits.plan), limits.share, daily_cap=limits.daily_cap)
