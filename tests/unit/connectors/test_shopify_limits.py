"""The limiter reports the headroom Shopify last gave, per plan tier, to the metrics."""

from __future__ import annotations

from prometheus_client import REGISTRY

from connectors.shopify_limits import ShopifyRateLimiter
from lib import metrics


def headroom(tier: str) -> float | None:
    return REGISTRY.get_sample_value("funnelsync_shopify_bucket_headroom_ratio", {"tier": tier})


def test_shopifys_throttle_status_sets_the_headroom_of_the_shops_tier() -> None:
    limiter = ShopifyRateLimiter(clock=lambda: 0.0)
    status = {"currentlyAvailable": 1500, "maximumAvailable": 2000, "restoreRate": 100}
    limiter.observe("a.myshopify.com", "{ shop { id } }", {"requestedQueryCost": 2, "throttleStatus": status})
    assert headroom("standard") == 0.75
    plus = {"currentlyAvailable": 5000, "maximumAvailable": 20000, "restoreRate": 1000}
    limiter.observe("b.myshopify.com", "{ shop { id } }", {"requestedQueryCost": 2, "throttleStatus": plus})
    assert headroom("plus") == 0.25
    assert metrics.shopify_tier(2000) == "enterprise"
    assert metrics.shopify_tier(123) == "other"
