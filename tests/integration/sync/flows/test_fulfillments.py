"""Fulfillments (seeds/003): with Fulfilled by CRM the CRM's tracking number reaches Shopify, without it
Shopify's fulfillments reach the CRM."""

from __future__ import annotations

from tests.support.funnel_wizard import post_form
from tests.support.live_funnel import (
    SHOPIFY_ORDERS,
    checkout,
    crm_funnel_order,
    crm_orders,
    crm_writes,
    funnel_of,
    settle,
    shopify_graphql,
    user_id,
)
from tests.support.shops import SHOP
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
