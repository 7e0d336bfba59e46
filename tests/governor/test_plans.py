"""Budgets from Zoom's plan table and the configured share."""

from __future__ import annotations

import pytest

from service.governor import Plan, budget
from service.zoom import RateLimitCategory as C


def test_the_share_scales_every_category() -> None:
    found = budget(Plan.BUSINESS, 0.5)
    assert found.rates[C.LIGHT] == 40
    assert found.rates[C.MEDIUM] == 30
    assert found.rates[C.HEAVY] == 20
    assert found.rates[C.RESOURCE_INTENSIVE] == pytest.approx(10 / 60)


def test_heavy_and_resource_intensive_share_one_daily_cap() -> None:
    found = budget(Plan.PRO, 0.5)
    assert found.daily[C.HEAVY] is found.daily[C.RESOURCE_INTENSIVE]
    assert found.daily[C.HEAVY].calls == 15_000
    assert C.MEDIUM not in found.daily


def test_a_configured_daily_cap_replaces_the_plans() -> None:
    assert budget(Plan.BUSINESS, 0.5, daily_cap=100_000).daily[C.HEAVY].calls == 50_000


def test_the_free_plan_caps_each_category_apart() -> None:
    found = budget(Plan.FREE, 1.0)
    assert found.daily[C.MEDIUM].calls == 2_000
    assert found.daily[C.HEAVY].calls == 1_000
    assert found.rates[C.HEAVY] == 1


def test_the_interval_includes_the_margin() -> None:
    found = budget(Plan.PRO, 0.5, margin=1.1)
    assert found.interval(C.MEDIUM) == pytest.approx(0.11)


@pytest.mark.parametrize("share", [0, -0.1, 1.5])
def test_a_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="share"):
        budget(Plan.PRO, share)
