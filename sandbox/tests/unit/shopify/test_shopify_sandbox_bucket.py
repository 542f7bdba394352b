"""The leaky bucket behaves like Shopify's: restore over time, refunds, a size cap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.shopify.bucket import LeakyBucket
from sandbox.shopify.models import PlanTier


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(
    ("tier", "rate", "size"),
    [
        (PlanTier.STANDARD, 100, 2000),
        (PlanTier.ADVANCED, 200, 4000),
        (PlanTier.PLUS, 1000, 20000),
        (PlanTier.ENTERPRISE, 2000, 40000),
    ],
)
def test_tier_limits_match_shopify(tier: PlanTier, rate: float, size: float) -> None:
    assert (tier.restore_rate, tier.bucket_size) == (rate, size)


def test_a_new_bucket_is_full() -> None:
    bucket = LeakyBucket(2000, 100, FakeClock())
    assert bucket.status().currently_available == 2000


def test_taking_requires_the_whole_cost_and_takes_nothing_otherwise() -> None:
    bucket = LeakyBucket(2000, 100, FakeClock())
    assert bucket.try_take(1500)
    assert not bucket.try_take(600)
    assert bucket.available() == 500


def test_refund_returns_the_unused_part() -> None:
    bucket = LeakyBucket(2000, 100, FakeClock())
    bucket.try_take(102)
    bucket.refund(102 - 36)
    assert bucket.available() == 2000 - 36


def test_points_restore_at_the_rate_per_second() -> None:
    clock = FakeClock()
    bucket = LeakyBucket(2000, 100, clock)
    bucket.try_take(1500)
    clock.advance(3)
    assert bucket.available() == 500 + 3 * 100


def test_restore_stops_at_the_bucket_size() -> None:
    clock = FakeClock()
    bucket = LeakyBucket(2000, 100, clock)
    bucket.try_take(10)
    clock.advance(1000)
    assert bucket.available() == 2000
    bucket.refund(500)
    assert bucket.available() == 2000


def test_drain_empties_the_bucket_until_time_passes() -> None:
    clock = FakeClock()
    bucket = LeakyBucket(20000, 1000, clock)
    bucket.drain()
    assert not bucket.try_take(1)
    clock.advance(0.5)
    assert bucket.status().currently_available == 500


def test_plan_change_keeps_the_level_under_the_new_size() -> None:
    clock = FakeClock()
    bucket = LeakyBucket(20000, 1000, clock)
    bucket.try_take(5000)
    bucket.resize(2000, 100)
    assert bucket.available() == 2000
    bucket.try_take(2000)
    clock.advance(1)
    assert bucket.available() == 100


def test_status_reports_whole_points_available() -> None:
    clock = FakeClock()
    bucket = LeakyBucket(2000, 100, clock)
    bucket.try_take(1000)
    clock.advance(0.019)
    status = bucket.status()
    assert status.currently_available == 1001
    assert status.as_json() == {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 1001,
        "restoreRate": 100.0,
    }


def test_seconds_until_a_cost_fits() -> None:
    bucket = LeakyBucket(2000, 100, FakeClock())
    bucket.try_take(2000)
    assert bucket.seconds_until(250) == pytest.approx(2.5)


@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["take", "refund", "wait"]),
            # Whole points and seconds keep the float arithmetic exact.
            st.integers(min_value=0, max_value=3000),
        ),
        max_size=40,
    )
)
def test_level_follows_a_simple_model_and_stays_within_bounds(
    steps: list[tuple[str, int]],
) -> None:
    clock = FakeClock()
    bucket = LeakyBucket(2000, 100, clock)
    model = 2000.0
    for action, amount in steps:
        if action == "take":
            taken = bucket.try_take(amount)
            assert taken == (model >= amount)
            if taken:
                model -= amount
        elif action == "refund":
            bucket.refund(amount)
            model = min(2000.0, model + amount)
        else:
            seconds = amount // 100
            clock.advance(seconds)
            model = min(2000.0, model + seconds * 100)
        assert 0 <= bucket.available() <= 2000
        assert bucket.available() == model
