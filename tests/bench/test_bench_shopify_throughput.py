"""Limiter throughput per plan tier as a fraction of its restore rate (target: at least 0.9).

A burst of five buckets' worth of queries runs through the limiter alone against the sandbox's
leaky bucket on a shared simulated clock: the figure is how much of the restored budget
the limiter turned into completed queries, with no query failing. The whole sync path (jobs,
worker, real HTTP and time) is test_bench_sync_throughput's "sync throughput [tier]".
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.bench.support import BenchReport
from tests.support.shopify_limits import Harness, burst, running_harness

ALL_TIERS = {"standard": 100, "advanced": 200, "plus": 1000, "enterprise": 2000}


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with running_harness() as running:
        yield running


@pytest.mark.parametrize("tier", sorted(ALL_TIERS))
async def test_throughput_per_tier(harness: Harness, bench_report: BenchReport, tier: str) -> None:
    result = await burst(harness, "demo-store.myshopify.com", tier, buckets=5)
    rate, bucket = ALL_TIERS[tier], ALL_TIERS[tier] * 20
    fraction = (result.spent - bucket) / result.elapsed / rate
    bench_report.add(f"limiter throughput [{tier}]", fraction, "of restore rate", ">= 0.9", fraction >= 0.9)
