"""Subscribing through Shopify's Billing API (sandbox), entitlements at publish, webhook order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from billing.plans import PlanForm, create_plan, set_archived
from billing.services import entitlements
from billing.tables import Subscription
from funnels.tables import Funnel
from tests.integration.funnels.test_publish import add_payment_processor, complete_wizard
from tests.integration.funnels.test_wizard_first_steps import SHOP, post_form
from tests.integration.iam.support import install_shop, post_webhook, sign_in
from tests.stack import Stack, running_stack

PRO = PlanForm.from_data(
    {
        "code": "pro",
        "name": "Pro",
        "price": "29.00",
        "currency": "USD",
        "interval": "month",
        "trial_days": "7",
        "live_funnels_limit": "5",
        "synced_orders_limit": "5000",
        "upsells_limit": "3",
    }
)


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        minted = await running.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")
        await install_shop(running.app, SHOP, access_token=minted.json()["access_token"])
        await running.drain()
        await sign_in(running.client, SHOP)
        await create_plan(PRO)
        yield running


async def subscribe_and_decide(stack: Stack, plan: str, decision: str) -> str:
    started = await post_form(stack, "/billing/subscribe", {"plan": plan})
    assert started.status_code == 303, started.text  # type: ignore[attr-defined]
    confirmation = urlsplit(started.headers["location"])  # type: ignore[attr-defined]
    page = await stack.shopify.get(confirmation.path)
    assert "Pro" in page.text
    assert "29.00" in page.text
    decided = await stack.shopify.post(confirmation.path.replace("/confirm", f"/{decision}"))
    assert decided.status_code == 302
    back = urlsplit(decided.headers["location"])
    returned = await stack.client.get(f"{back.path}?{back.query}")
    location: str = returned.headers["location"]
    return location


async def test_free_plan_limits_publish_and_say_how_to_upgrade(stack: Stack) -> None:
    assert (await entitlements(SHOP)).plan_code == "free"
    await add_payment_processor(stack)
    first = await complete_wizard(stack, subdomain="first-one")
    await post_form(stack, f"/funnels/{first}/publish")
    await stack.drain()
    second = await complete_wizard(stack, subdomain="second-one")
    refused = await post_form(stack, f"/funnels/{second}/publish")
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "allows 1 live funnel" in refused.text  # type: ignore[attr-defined]
    assert 'href="/billing/"' in refused.text  # type: ignore[attr-defined]
    assert await Funnel.count().where(Funnel.status == "publishing") == 0


async def test_approved_charge_activates_the_plan_and_lifts_the_limits(stack: Stack) -> None:
    page = await stack.client.get("/billing/")
    assert "Choose Pro" in page.text
    outcome = await subscribe_and_decide(stack, "pro", "approve")
    assert outcome == "/billing/?outcome=active"
    assert "Your new plan is active" in (await stack.client.get(outcome)).text
    limits = await entitlements(SHOP)
    assert (limits.plan_code, limits.live_funnels, limits.upsells_per_funnel) == ("pro", 5, 3)

    await add_payment_processor(stack)
    for subdomain in ("first-one", "second-one"):
        funnel_id = await complete_wizard(stack, subdomain=subdomain)
        await post_form(stack, f"/funnels/{funnel_id}/publish")
        await stack.drain()
    assert await Funnel.count().where(Funnel.status == "live") == 2


async def test_declined_charge_keeps_the_free_plan(stack: Stack) -> None:
    outcome = await subscribe_and_decide(stack, "pro", "decline")
    assert outcome == "/billing/?outcome=declined"
    assert (await entitlements(SHOP)).plan_code == "free"


async def test_archived_plan_chosen_by_a_forged_form_is_refused(stack: Stack) -> None:
    from billing.tables import Plan

    pro = await Plan.select(Plan.id).where(Plan.code == "pro").first()
    assert pro is not None
    await set_archived(pro["id"], True)
    refused = await post_form(stack, "/billing/subscribe", {"plan": "pro"})
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "not available" in refused.text  # type: ignore[attr-defined]
    for forged in ("free", "does-not-exist"):
        again = await post_form(stack, "/billing/subscribe", {"plan": forged})
        assert again.status_code == 400  # type: ignore[attr-defined]
    assert await Subscription.count() == 0


async def test_out_of_order_webhooks_end_in_the_latest_state(stack: Stack) -> None:
    await subscribe_and_decide(stack, "pro", "approve")
    row = await Subscription.select(Subscription.external_id).first()
    assert row is not None
    gid = row["external_id"]

    def event(status: str, updated_at: str) -> dict[str, object]:
        return {
            "app_subscription": {
                "admin_graphql_api_id": gid,
                "status": status.upper(),
                "updated_at": updated_at,
            }
        }

    # Cancelled later in time, but its webhook arrives before an older "active" one.
    await post_webhook(
        stack.client, "app_subscriptions/update", event("cancelled", "2099-01-02T00:00:00Z"), shop_domain=SHOP
    )
    await post_webhook(
        stack.client, "app_subscriptions/update", event("active", "2099-01-01T00:00:00Z"), shop_domain=SHOP
    )
    duplicate = event("active", "2099-01-01T00:00:00Z")
    await post_webhook(
        stack.client, "app_subscriptions/update", duplicate, shop_domain=SHOP, webhook_id="same"
    )
    await post_webhook(
        stack.client, "app_subscriptions/update", duplicate, shop_domain=SHOP, webhook_id="same"
    )
    await stack.drain()
    assert (await Subscription.select(Subscription.status).first()) == {"status": "cancelled"}
    assert (await entitlements(SHOP)).plan_code == "free"
