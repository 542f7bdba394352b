"""The billing domain's enums on real databases built from the migrations: stored as their values."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

import pytest

from billing.tables import (
    BillingInterval,
    Plan,
    PlanPrice,
    ProviderName,
    ProviderObject,
    ProviderObjectKind,
    Subscription,
    SubscriptionStatus,
)
from tests.support.enum_storage import assert_database_default, assert_stored_as_values

pytestmark = pytest.mark.postgres


def _unique() -> str:
    return uuid.uuid4().hex[:12]


async def _price(interval: StrEnum = BillingInterval.MONTH) -> int:
    plans = await Plan.insert(Plan(code=f"plan-{_unique()}", name="Plan")).returning(Plan.id)
    price = PlanPrice(plan=plans[0]["id"], amount_cents=1000, currency="USD", interval=interval)
    rows = await PlanPrice.insert(price).returning(PlanPrice.id)
    return int(rows[0]["id"])


async def _subscription(**values: Any) -> int:
    price_id = await _price()
    price = await PlanPrice.select(PlanPrice.plan).where(PlanPrice.id == price_id).first()
    assert price is not None
    subscription = Subscription(
        shop_domain="demo-store.myshopify.com",
        plan=price["plan"],
        plan_price=price_id,
        external_id=f"sub_{_unique()}",
        **{"provider": ProviderName.STRIPE, **values},
    )
    rows = await Subscription.insert(subscription).returning(Subscription.id)
    return int(rows[0]["id"])


async def _provider_object(**values: Any) -> int:
    columns = {"provider": ProviderName.STRIPE, "kind": ProviderObjectKind.CUSTOMER, **values}
    local_id = _unique()
    made = ProviderObject(
        key=f"{columns['provider']}:{columns['kind']}:{local_id}",
        local_id=local_id,
        external_id=f"ext_{local_id}",
        **columns,
    )
    rows = await ProviderObject.insert(made).returning(ProviderObject.id)
    return int(rows[0]["id"])


async def test_price_intervals_are_stored_as_their_values(database: None) -> None:
    await assert_stored_as_values(PlanPrice.interval, _price)


async def test_subscription_providers_and_statuses_are_stored_as_their_values(database: None) -> None:
    await assert_stored_as_values(Subscription.provider, lambda provider: _subscription(provider=provider))
    await assert_stored_as_values(Subscription.status, lambda status: _subscription(status=status))
    await assert_database_default(Subscription.status, SubscriptionStatus.PENDING)


async def test_provider_objects_are_stored_with_their_values(database: None) -> None:
    await assert_stored_as_values(
        ProviderObject.provider, lambda provider: _provider_object(provider=provider)
    )
    await assert_stored_as_values(ProviderObject.kind, lambda kind: _provider_object(kind=kind))
    # The key embeds both: formatted as their values (a StrEnum formats as its value).
    row = (
        await ProviderObject.select(ProviderObject.key)
        .where(ProviderObject.kind == ProviderObjectKind.PRICE)
        .first()
    )
    assert row is not None
    assert row["key"].startswith("stripe:price:")
