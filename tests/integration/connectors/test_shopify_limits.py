"""The per-shop limiter against the Shopify sandbox's leaky bucket, on a shared fake clock.

The sandbox's bucket and the limiter read the same clock, and the limiter's sleep moves
it: bursts far beyond a bucket run to completion at the tier's restore rate, in no real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.shopify_limits import Harness, burst, running_harness

TIER_RATES = {"standard": 100, "plus": 1000}


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with running_harness() as running:
        yield running


@pytest.mark.parametrize("tier", sorted(TIER_RATES))
async def test_a_burst_beyond_the_bucket_runs_at_the_tiers_restore_rate(harness: Harness, tier: str) -> None:
    rate, bucket = TIER_RATES[tier], TIER_RATES[tier] * 20
    result = await burst(harness, "demo-store.myshopify.com", tier, buckets=3)
    # Beyond what the full bucket held, points only come back at the restore rate: the burst
    # cannot be faster than that, and waits no longer than one query's reservation beyond it.
    fastest = (result.spent - bucket) / rate
    assert fastest <= result.elapsed <= fastest + result.requested / rate
    assert harness.client.limiter.waited_seconds > 0
