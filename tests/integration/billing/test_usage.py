"""Synced orders counted per calendar month against the plan's limit (billing.usage), on the
app's database as the migrations build it: SQLite, and PostgreSQL when reachable."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from billing.plans import FREE_PLAN, PlanForm, create_plan
from billing.services import NewSubscription, ProviderState, apply_payment, apply_state, entitlements
from billing.tables import Plan, PlanPrice, SyncedOrderClaim, SyncedOrderMonth
from billing.usage import claim_synced_order, synced_orders_this_month

pytestmark = pytest.mark.postgres

SHOP, OTHER_SHOP = "demo-store.myshopify.com", "demo-advanced.myshopify.com"
NOVEMBER = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


async def subscribe(shop: str, synced_orders_limit: int, *, since: datetime = NOVEMBER) -> str:
    """The shop on a paid plan with this monthly limit, as a provider would report it."""
    code = f"orders-{synced_orders_limit}"
    plan_id, errors = await create_plan(
        PlanForm.from_data(
            {
                "code": code,
                "name": f"Up to {synced_orders_limit}",
                "price": "10.00",
                "currency": "USD",
                "interval": "month",
                "trial_days": "0",
                "live_funnels_limit": "3",
                "synced_orders_limit": str(synced_orders_limit),
                "upsells_limit": "2",
            }
        )
    )
    assert errors == {}
    price = await PlanPrice.select(PlanPrice.id).where(PlanPrice.plan == plan_id).first()
    assert price is not None
    external_id = f"sub_{shop.split('.')[0]}_{synced_orders_limit}"
    state = ProviderState(status="active", changed_at=since - timedelta(days=20))
    await apply_state(shop, external_id, state, new=NewSubscription("stripe", price["id"]))
    assert (await entitlements(shop, since)).synced_orders_per_month == synced_orders_limit
    return external_id


async def claims(shop: str) -> int:
    return int(await SyncedOrderClaim.count().where(SyncedOrderClaim.shop_domain == shop))


async def test_an_order_counts_once_a_month_up_to_the_limit(client: httpx.AsyncClient) -> None:
    await subscribe(SHOP, 3)
    results = [await claim_synced_order(SHOP, f"order-{n}", NOVEMBER) for n in range(5)]
    assert results == [True, True, True, False, False]
    assert await claim_synced_order(SHOP, "order-1", NOVEMBER + timedelta(days=3))  # counted already
    assert await synced_orders_this_month(SHOP, NOVEMBER) == 3
    assert await claims(SHOP) == 3
    # Another shop's count is its own (the free plan's limit).
    assert await claim_synced_order(OTHER_SHOP, "order-1", NOVEMBER)
    assert await synced_orders_this_month(OTHER_SHOP, NOVEMBER) == 1
    assert await synced_orders_this_month(SHOP, NOVEMBER) == 3


async def test_shops_without_a_plan_have_the_free_plans_limit(client: httpx.AsyncClient) -> None:
    await Plan.update({Plan.synced_orders_limit: 2}).where(Plan.code == FREE_PLAN)
    results = [await claim_synced_order(SHOP, f"order-{n}", NOVEMBER) for n in range(3)]
    assert results == [True, True, False]


async def test_after_a_failed_payments_grace_the_free_limit_applies(client: httpx.AsyncClient) -> None:
    await Plan.update({Plan.synced_orders_limit: 1}).where(Plan.code == FREE_PLAN)
    subscription = await subscribe(SHOP, 10)
    failed_at = NOVEMBER - timedelta(days=10)
    await apply_payment(SHOP, subscription, paid=False, at=failed_at, grace=timedelta(days=7))
    assert await claim_synced_order(SHOP, "order-1", NOVEMBER)
    assert not await claim_synced_order(SHOP, "order-2", NOVEMBER)  # free plan: 1 a month
    assert await claim_synced_order(SHOP, "order-2", failed_at + timedelta(days=6, hours=23))  # in grace
    await apply_payment(SHOP, subscription, paid=True, at=NOVEMBER)
    assert await claim_synced_order(SHOP, "order-3", NOVEMBER)


async def test_concurrent_claims_never_exceed_the_limit(client: httpx.AsyncClient) -> None:
    await subscribe(SHOP, 5)
    results = await asyncio.gather(*(claim_synced_order(SHOP, f"order-{n}", NOVEMBER) for n in range(20)))
    assert sum(results) == 5
    assert await synced_orders_this_month(SHOP, NOVEMBER) == 5
    assert await claims(SHOP) == 5

    december = NOVEMBER + timedelta(days=30)
    same_order = await asyncio.gather(*(claim_synced_order(SHOP, "order-x", december) for _ in range(10)))
    assert all(same_order)
    assert await synced_orders_this_month(SHOP, december) == 1


async def test_a_new_calendar_month_utc_starts_from_zero(client: httpx.AsyncClient) -> None:
    await subscribe(SHOP, 2)
    last_second = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)
    assert await claim_synced_order(SHOP, "order-1", NOVEMBER)
    assert await claim_synced_order(SHOP, "order-2", NOVEMBER)
    assert not await claim_synced_order(SHOP, "order-3", last_second)
    # 20:00 on 30 November in New York is already December in UTC.
    new_york_evening = datetime(2026, 11, 30, 20, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert await claim_synced_order(SHOP, "order-3", new_york_evening)
    assert await claim_synced_order(SHOP, "order-1", new_york_evening)  # a new month counts it again
    assert not await claim_synced_order(SHOP, "order-4", new_york_evening)
    months = {
        row["period"]: row["orders"]
        for row in await SyncedOrderMonth.select(SyncedOrderMonth.period, SyncedOrderMonth.orders)
    }
    assert months == {"2026-11": 2, "2026-12": 2}
    with pytest.raises(ValueError, match="timezone-aware"):
        await claim_synced_order(SHOP, "order-5", datetime(2026, 12, 2, 12, 0))  # noqa: DTZ001
