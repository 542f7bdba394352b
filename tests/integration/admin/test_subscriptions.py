"""Admin: the subscriptions page (every provider's, with payment problems) and the shops page beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from billing.plans import PlanForm, create_plan
from billing.services import NewSubscription, ProviderState, apply_payment, apply_state
from billing.tables import PlanPrice
from funnels.tables import Funnel
from tests.support.admin_area import PLAN, signed_in_admin
from tests.support.shops import install_shop

pytestmark = pytest.mark.postgres


async def test_subscriptions_and_shops_pages_show_plans_states_and_funnels(
    client: httpx.AsyncClient, app: object
) -> None:
    shop, other = "demo-store.myshopify.com", "demo-advanced.myshopify.com"
    for domain in (shop, other):
        await install_shop(app, domain)  # type: ignore[arg-type]
    plan_id, _ = await create_plan(PlanForm.from_data(PLAN))
    price = await PlanPrice.select(PlanPrice.id).where(PlanPrice.plan == plan_id).first()
    assert price is not None
    since = datetime(2026, 11, 1, tzinfo=UTC)
    for domain, external_id in ((shop, "sub_shop_one"), (other, "gid://shopify/AppSubscription/7")):
        state = ProviderState(status="active", changed_at=since, period_end=since + timedelta(days=30))
        provider = "stripe" if external_id.startswith("sub_") else "shopify"
        await apply_state(domain, external_id, state, new=NewSubscription(provider, price["id"]))
    await apply_payment(shop, "sub_shop_one", paid=False, at=since + timedelta(days=2))
    await Funnel.insert(Funnel(shop_domain=shop, status="live"), Funnel(shop_domain=shop, status="draft"))
    await signed_in_admin(client)

    page = await client.get("/admin/subscriptions")
    assert page.status_code == 200
    assert "sub_shop_one" in page.text
    assert "gid://shopify/AppSubscription/7" in page.text
    assert "29.00 USD / month" in page.text
    assert "Payment failed 2026-11-03" in page.text
    assert "free plan limits since 2026-11-10" in page.text  # the grace period ended
    assert "Stripe" in page.text
    assert "Shopify" in page.text

    shops = await client.get("/admin/shops")
    assert shops.text.count("Pro") >= 2
    assert "1 live" in shops.text
    assert "2 in all" in shops.text
    assert 'href="/admin/subscriptions"' in shops.text
