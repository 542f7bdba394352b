"""A per-shop limiter that follows Shopify's calculated query cost.

Shopify answers every GraphQL call with `extensions.cost.throttleStatus`: how many points
the shop's bucket holds, its size and its restore rate (100/200/1000/2000 points a second
by plan). The limiter mirrors that bucket, waits before a query the bucket cannot afford,
and when Shopify still says THROTTLED, waits exactly as long as the missing points take to
restore. Waiting is not failing: only a wait longer than `max_wait_seconds` gives up.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lib import metrics

# Before Shopify has told us anything about a shop: the smallest bucket (Standard).
DEFAULT_RESTORE_RATE = 100.0
DEFAULT_MAXIMUM = 2000.0
# A query we have not seen yet is assumed to cost this much.
DEFAULT_QUERY_COST = 50.0


@dataclass
class Bucket:
    available: float
    maximum: float
    restore_rate: float
    observed_at: float

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.observed_at)
        self.available = min(self.maximum, self.available + elapsed * self.restore_rate)
        self.observed_at = now

    def seconds_until(self, cost: float) -> float:
        return max(0.0, (min(cost, self.maximum) - self.available) / self.restore_rate)


class ShopifyRateLimiter:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_wait_seconds: float = 30.0,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.max_wait_seconds = max_wait_seconds
        self._buckets: dict[str, Bucket] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._costs: dict[str, float] = {}
        self.waited_seconds = 0.0

    def estimate(self, query: str) -> float:
        return self._costs.get(query, DEFAULT_QUERY_COST)

    def _bucket(self, shop: str) -> Bucket:
        bucket = self._buckets.get(shop)
        if bucket is None:
            bucket = Bucket(DEFAULT_MAXIMUM, DEFAULT_MAXIMUM, DEFAULT_RESTORE_RATE, self.clock())
            self._buckets[shop] = bucket
        bucket.refill(self.clock())
        return bucket

    def seconds_until(self, shop: str, cost: float) -> float:
        """How long until the shop's bucket, as last seen, can afford `cost`."""
        return self._bucket(shop).seconds_until(cost)

    async def wait_for(self, shop: str, cost: float, max_wait_seconds: float | None = None) -> bool:
        """Waits until the shop's bucket can afford `cost`, then reserves it.

        False when that would take longer than the patience allowed (nothing reserved).
        """
        patience = self.max_wait_seconds if max_wait_seconds is None else max_wait_seconds
        async with self._locks[shop]:
            bucket = self._bucket(shop)
            wait = bucket.seconds_until(cost)
            if wait > patience:
                return False
            if wait > 0:
                self.waited_seconds += wait
                await self.sleep(wait)
                bucket.refill(self.clock())
            bucket.available -= min(cost, bucket.available)
            return True

    def observe(self, shop: str, query: str, cost: dict[str, Any]) -> None:
        """Takes Shopify's own view of the bucket, and remembers what the query costs."""
        requested = cost.get("requestedQueryCost")
        if requested is not None:
            self._costs[query] = float(requested)
        status = cost.get("throttleStatus") or {}
        if "currentlyAvailable" in status:
            bucket = Bucket(
                available=float(status["currentlyAvailable"]),
                maximum=float(status.get("maximumAvailable") or DEFAULT_MAXIMUM),
                restore_rate=float(status.get("restoreRate") or DEFAULT_RESTORE_RATE),
                observed_at=self.clock(),
            )
            self._buckets[shop] = bucket
            metrics.shopify_bucket_headroom.labels(metrics.shopify_tier(bucket.restore_rate)).set(
                bucket.available / bucket.maximum
            )
