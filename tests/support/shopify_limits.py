"""The per-shop limiter against the Shopify sandbox's leaky bucket, on a shared fake clock.

The sandbox's bucket and the limiter read the same clock, and the limiter's sleep moves
it: bursts far beyond a bucket run to completion at the tier's restore rate, in no real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx

from connectors.shopify import ShopifyClient
from connectors.shopify_limits import ShopifyRateLimiter
from sandbox.shopify import ShopifySandboxConfig, create_shopify_sandbox
from tests.support.app import asgi_client, lifespan_of

# 2 + 50 * (1 + 2 + 10) = 652 points requested each time.
HEAVY_QUERY = "{ products(first: 50) { nodes { id title variants(first: 10) { nodes { id price } } } } }"
# Points restored a second, per plan tier; a bucket holds 20 seconds' worth.
RESTORE_RATES = {"standard": 100, "advanced": 200, "plus": 1000, "enterprise": 2000}


class SharedClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    clock: SharedClock
    shopify: httpx.AsyncClient
    client: ShopifyClient


@asynccontextmanager
async def running_harness() -> AsyncIterator[Harness]:
    """A Shopify client with its limiter, against a fresh Shopify sandbox, on one fake clock."""
    clock = SharedClock()
    sandbox = create_shopify_sandbox(ShopifySandboxConfig(public_url="http://shopify.test", clock=clock))
    async with lifespan_of(sandbox), asgi_client(sandbox, "http://shopify.test") as control:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=cast(Any, sandbox)))
        client = ShopifyClient(
            http,
            shop_base_url="http://shopify.test/shops/{shop}",
            api_version="2026-10",
            client_id="dev-shopify-key",
            client_secret="dev-shopify-secret",
            limiter=ShopifyRateLimiter(clock=clock, sleep=clock.sleep),
        )
        yield Harness(clock, control, client)
        await http.aclose()


@dataclass(frozen=True)
class Burst:
    spent: float  # actual points, after Shopify's refunds
    requested: float  # what one query asks the bucket for before it runs
    elapsed: float


async def burst(harness: Harness, shop: str, tier: str, buckets: int) -> Burst:
    """Queries until `buckets` times the bucket's size has been spent."""
    await harness.shopify.put(f"/_sandbox/shops/{shop}/plan", json={"tier": tier})
    token = (await harness.shopify.post(f"/_sandbox/shops/{shop}/tokens")).json()["access_token"]
    started = harness.clock.now
    spent = requested = 0.0
    while spent < buckets * RESTORE_RATES[tier] * 20:
        result = await harness.client.graphql(shop, token, HEAVY_QUERY)  # raises if throttling leaked out
        spent += float(result.cost["actualQueryCost"])
        requested = float(result.cost["requestedQueryCost"])
    return Burst(spent, requested, harness.clock.now - started)
