"""Query cost throttling per shop: the leaky bucket, THROTTLED, the single-query limit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.tests.integration.shopify.shopify_sandbox_support import (
    MAIN_SHOP,
    AdminApi,
    FakeClock,
    mint_token,
)

RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"

# Forty aliased connections of 20 variants: requested 40 * (2 + 20) = 880, and since
# every shop has at least 20 variants the actual cost is the same: nothing is refunded.
HEAVY = "{ " + " ".join(f"v{i}: productVariants(first: 20) {{ nodes {{ id }} }}" for i in range(40)) + " }"
HEAVY_COST = 880


def throttle_status(body: dict[str, Any]) -> dict[str, Any]:
    status: dict[str, Any] = body["extensions"]["cost"]["throttleStatus"]
    return status


@pytest.mark.parametrize(
    ("shop", "restore_rate", "bucket_size"),
    [(MAIN_SHOP, 100.0, 2000.0), ("demo-plus.myshopify.com", 1000.0, 20000.0)],
    ids=["standard", "plus"],
)
async def test_a_burst_is_throttled_and_the_bucket_refills_at_the_tiers_rate(
    client: httpx.AsyncClient, clock: FakeClock, shop: str, restore_rate: float, bucket_size: float
) -> None:
    api = AdminApi(client, shop, await mint_token(client, shop))
    successes = 0
    for _ in range(100):
        body = await api.graphql(HEAVY)
        if "errors" in body:
            break
        assert body["extensions"]["cost"]["actualQueryCost"] == HEAVY_COST
        successes += 1
    else:
        pytest.fail("never throttled")
    # With the clock standing still, exactly the full bucket's worth went through.
    assert successes == int(bucket_size // HEAVY_COST)
    assert body["errors"] == [
        {"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS}}
    ]
    assert "data" not in body
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == HEAVY_COST
    assert cost["actualQueryCost"] is None
    before = throttle_status(body)
    assert before["maximumAvailable"] == bucket_size
    assert before["restoreRate"] == restore_rate
    assert before["currentlyAvailable"] == bucket_size - successes * HEAVY_COST

    seconds = 2.5
    clock.advance(seconds)
    after = throttle_status(await api.graphql("{ __typename }"))  # costs nothing
    assert after["currentlyAvailable"] == before["currentlyAvailable"] + seconds * restore_rate

    clock.advance(bucket_size / restore_rate)
    recovered = await api.graphql(HEAVY)
    assert "errors" not in recovered
    assert throttle_status(recovered)["currentlyAvailable"] == bucket_size - HEAVY_COST


async def test_unused_cost_is_refunded_after_the_query(admin: AdminApi) -> None:
    # 100 requested per page, but the store has fewer products: the rest comes back.
    body = await admin.graphql("{ products(first: 100) { nodes { id } } }")
    cost = body["extensions"]["cost"]
    count = len(body["data"]["products"]["nodes"])
    assert cost["requestedQueryCost"] == 102
    assert cost["actualQueryCost"] == 2 + count < 102
    assert cost["throttleStatus"]["currentlyAvailable"] == 2000 - cost["actualQueryCost"]


async def test_a_query_over_1000_points_is_refused_without_charge(admin: AdminApi) -> None:
    body = await admin.graphql("{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }")
    expected_cost = 2 + 250 * (1 + 2 + 250)
    error = body["errors"][0]
    assert error["extensions"] == {"code": "MAX_COST_EXCEEDED", "cost": expected_cost, "maxCost": 1000}
    assert error["message"].startswith(
        f"Query cost is {expected_cost}, which exceeds the single query max cost limit (1000)."
    )
    assert "data" not in body
    assert body["extensions"]["cost"]["requestedQueryCost"] == expected_cost
    assert throttle_status(body)["currentlyAvailable"] == 2000


async def test_changing_the_plan_changes_the_limits(client: httpx.AsyncClient, admin: AdminApi) -> None:
    response = await client.put(f"/_sandbox/shops/{MAIN_SHOP}/plan", json={"tier": "enterprise"})
    assert response.status_code == 200
    status = throttle_status(await admin.graphql("{ shop { plan { displayName shopifyPlus } } }"))
    assert (status["maximumAvailable"], status["restoreRate"]) == (40000.0, 2000.0)


async def test_buckets_are_per_shop(client: httpx.AsyncClient, admin: AdminApi) -> None:
    for _ in range(3):
        await admin.graphql(HEAVY)
    other = AdminApi(
        client, "demo-advanced.myshopify.com", await mint_token(client, "demo-advanced.myshopify.com")
    )
    status = throttle_status(await other.graphql("{ __typename }"))
    assert status["currentlyAvailable"] == 4000


async def test_a_resized_bucket_keeps_the_tier_s_restore_rate_and_counts_points_spent(
    client: httpx.AsyncClient, admin: AdminApi
) -> None:
    resized = await client.put(f"/_sandbox/shops/{MAIN_SHOP}/bucket", json={"maximumAvailable": 1000})
    assert resized.status_code == 200, resized.text
    body = await admin.graphql(HEAVY)
    status = throttle_status(body)
    assert (status["maximumAvailable"], status["restoreRate"]) == (1000.0, 100.0)
    assert status["currentlyAvailable"] == 1000 - HEAVY_COST
    summary = (await client.get(f"/_sandbox/shops/{MAIN_SHOP}")).json()
    assert summary["pointsSpent"] == HEAVY_COST
    assert summary["availableAfterLastQuery"] == 1000 - HEAVY_COST
    assert "errors" in await admin.graphql(HEAVY)  # the smaller bucket throttles sooner


@pytest.mark.parametrize("size", [0, -5, "big", True, None])
async def test_a_bucket_size_that_is_not_a_positive_number_is_refused(
    client: httpx.AsyncClient, size: object
) -> None:
    refused = await client.put(f"/_sandbox/shops/{MAIN_SHOP}/bucket", json={"maximumAvailable": size})
    assert refused.status_code == 400
    assert "maximumAvailable must be a positive number" in refused.text
    missing = await client.put("/_sandbox/shops/nowhere.myshopify.com/bucket", json={"maximumAvailable": 5})
    assert missing.status_code == 404
