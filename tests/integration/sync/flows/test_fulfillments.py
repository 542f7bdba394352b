"""Fulfillments (seeds/003): with Fulfilled by CRM the CRM's tracking number reaches Shopify, without it
Shopify's fulfillments reach the CRM."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jobqueue.inbox import JOB_PROCESS_INBOX_EVENT
from jobqueue.tables import Job, JobStatus
from lib.clock import utcnow
from tests.support.documented_payloads import fulfillment
from tests.support.funnel_wizard import post_form
from tests.support.live_funnel import (
    SHOPIFY_ORDERS,
    checkout,
    crm_funnel_order,
    crm_orders,
    crm_writes,
    funnel_of,
    hold_shopify_webhooks,
    settle,
    shopify_graphql,
    user_id,
)
from tests.support.shops import SHOP, post_webhook
from tests.support.stack import Stack


async def test_fulfilled_by_crm_writes_the_crm_tracking_number_to_shopify(stack: Stack) -> None:
    await post_form(
        stack,
        f"/funnels/{funnel_of(stack)}/settings/",
        {"fulfilled_by_crm": "on", "keep_products_synced": "on", "keep_orders_synced": "on"},
    )
    order = await crm_funnel_order(stack)
    shipped = await stack.crm.post(
        f"/_sandbox/users/{await user_id(stack)}/orders/{order['id']}/fulfillments",
        json={"tracking_number": "1Z999AA1", "carrier": "UPS"},
    )
    assert shipped.status_code == 201, shipped.text
    await settle(stack)

    (shopify_order,) = (await shopify_graphql(stack, SHOPIFY_ORDERS))["orders"]["nodes"]
    assert shopify_order["displayFulfillmentStatus"] == "FULFILLED"
    assert shopify_order["fulfillments"][0]["trackingInfo"][0] == {"number": "1Z999AA1", "company": "UPS"}
    assert (await crm_writes(stack)).get("fulfillments.create", 0) == 0  # Shopify's copy stays there


async def test_without_fulfilled_by_crm_shopify_fulfillments_reach_the_crm(stack: Stack) -> None:
    placed = await checkout(stack)
    shipped = await stack.shopify.post(
        f"/_sandbox/shops/{SHOP}/orders/{placed['id']}/fulfillments",
        json={"trackingNumber": "9400111", "trackingCompany": "USPS"},
    )
    assert shipped.status_code == 201, shipped.text
    await settle(stack)

    (order,) = await crm_orders(stack)
    assert order["status"] == "fulfilled"
    assert [(f["tracking_number"], f["carrier"]) for f in order["fulfillments"]] == [("9400111", "USPS")]
    assert (await crm_writes(stack)).get("fulfillments.create") == 1


# -- Fulfillments as Shopify sends them (tests/support/documented_payloads.py).


async def deliver(stack: Stack, topic: str, payload: dict[str, Any]) -> None:
    delivered = await post_webhook(stack.client, topic, payload, shop_domain=SHOP)
    assert delivered.status_code == 200, delivered.text
    await settle(stack)


async def test_a_pending_fulfillment_ships_in_the_crm_only_once_shopify_says_success(stack: Stack) -> None:
    placed = await checkout(stack)

    await deliver(stack, "fulfillments/create", fulfillment(7393834213470, placed["id"], "pending"))
    (order,) = await crm_orders(stack)
    assert [f["status"] for f in order["fulfillments"]] == ["pending"]
    assert order["status"] == "paid"  # not shipped yet

    await deliver(stack, "fulfillments/update", fulfillment(7393834213470, placed["id"], "success"))
    (order,) = await crm_orders(stack)
    assert [(f["status"], f["tracking_number"]) for f in order["fulfillments"]] == [("success", "1Z2345")]
    assert order["status"] == "fulfilled"


async def waiting_jobs() -> list[dict[str, Any]]:
    return list(
        await Job.select(Job.id, Job.attempts, Job.waiting_since).where(
            (Job.kind == JOB_PROCESS_INBOX_EVENT) & (Job.status == JobStatus.QUEUED)
        )
    )


async def test_a_fulfillment_of_an_order_never_in_the_crm_waits_then_says_why_with_a_retry(
    stack: Stack,
) -> None:
    # An order the shop holds that never reached the CRM (as one placed before the app was
    # installed): Shopify keeps its webhooks to itself while it is placed.
    await hold_shopify_webhooks(stack)
    placed = await checkout(stack)
    await deliver(stack, "fulfillments/create", fulfillment(7393834213460, placed["id"], "success"))

    (waiting,) = await waiting_jobs()
    assert waiting["attempts"] == 0  # waiting uses no attempt
    assert waiting["waiting_since"] is not None
    page = (await stack.client.get(f"/funnels/{funnel_of(stack)}/sync/")).text
    assert "Nothing failed in the last 24 hours." in page

    # An hour on, the order still has not come.
    await Job.update({Job.waiting_since: utcnow() - timedelta(hours=1), Job.run_at: utcnow()}).where(
        Job.id == waiting["id"]
    )
    await settle(stack)

    assert await waiting_jobs() == []
    page = (await stack.client.get(f"/funnels/{funnel_of(stack)}/sync/")).text
    assert "This fulfillment was not sent to the CRM: its order is not in the CRM" in page
    assert "(Waited 1 hour.)" in page
    assert 'action="/funnels/' in page  # with a retry
    assert await Job.count().where(Job.status == JobStatus.DEAD) == 0
