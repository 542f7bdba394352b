"""Orders both ways (Keep Orders Synchronized, seeds/003): a Shopify checkout becomes one CRM order with
its customer, a CRM funnel order one Shopify order; past the plan's monthly limit they wait."""

from __future__ import annotations

from billing.plans import FREE_PLAN
from billing.tables import Plan
from jobqueue.tables import Job
from lib.clock import utcnow
from tests.support.live_funnel import (
    SHOPIFY_ORDERS,
    T_SHIRT_GID,
    checkout,
    crm_customers,
    crm_funnel_order,
    crm_orders,
    crm_product,
    crm_writes,
    funnel_of,
    settle,
    shopify_graphql,
    shopify_writes,
)
from tests.support.stack import Stack


async def test_a_shopify_checkout_reaches_the_crm_once_with_its_customer(stack: Stack) -> None:
    await checkout(stack)

    (order,) = await crm_orders(stack)
    assert order["operator_comment"] == "Leave at the back door"
    assert order["shipping_address"]["address"] == "1 Elm St||Unit 9"
    assert order["shipping_address"]["city"] == "Austin"  # delivery, not billing's Dallas
    catalog_line, custom_line = order["items"]
    assert catalog_line["product_id"] == (await crm_product(stack))["id"]
    assert (custom_line["product_id"], custom_line["name"]) == (None, "Gift wrapping")
    (customer,) = await crm_customers(stack)
    assert (customer["email"], customer["address"]["address"]) == ("ann@example.com", "1 Elm St||Unit 9")
    products = (await stack.crm.get("/_sandbox/products")).json()["data"]
    assert not any(product["name"] == "Gift wrapping" for product in products)  # not a catalog product
    writes = await crm_writes(stack)
    assert (writes.get("orders.create"), writes.get("customers.create")) == (1, 1)
    assert writes.get("orders.update", 0) == 0  # orders/paid and orders/updated changed nothing

    page = await stack.client.get(f"/funnels/{funnel_of(stack)}/sync/")
    assert "Nothing failed in the last 24 hours." in page.text


async def test_a_funnel_order_placed_in_the_crm_becomes_one_shopify_order(stack: Stack) -> None:
    await crm_funnel_order(stack)

    assert (await shopify_writes(stack)).get("orderCreate") == 1
    (order,) = (await shopify_graphql(stack, SHOPIFY_ORDERS))["orders"]["nodes"]
    assert order["note"] == "Call before delivery"
    assert order["customer"]["email"] == "bo@example.com"  # created in Shopify for the order
    assert (order["shippingAddress"]["address1"], order["shippingAddress"]["address2"]) == (
        "2 Oak Ave",
        "Apt 3",
    )
    lines = {line["title"]: line["variant"] for line in order["lineItems"]["nodes"]}
    assert lines["Engraving"] is None  # kept on the order, not in the catalog
    assert {"id": T_SHIRT_GID} in lines.values()
    # Shopify's orders/create for it does not come back to the CRM as a second order.
    assert len(await crm_orders(stack)) == 1


async def test_orders_over_the_plan_limit_wait_and_sync_after_an_upgrade(stack: Stack) -> None:
    await Plan.update({Plan.synced_orders_limit: 1}).where(Plan.code == FREE_PLAN)
    await checkout(stack)
    await checkout(stack, email="second@example.com", firstName="Sam")

    assert len(await crm_orders(stack)) == 1  # the second waits, nothing is dropped
    page = await stack.client.get(f"/funnels/{funnel_of(stack)}/sync/")
    assert "synced orders for this month are used up" in page.text

    await Plan.update({Plan.synced_orders_limit: 100}).where(Plan.code == FREE_PLAN)  # the upgrade
    await Job.update({Job.run_at: utcnow()}).where(Job.status == "queued")  # its next try comes due
    await settle(stack)

    assert len(await crm_orders(stack)) == 2
    page = await stack.client.get(f"/funnels/{funnel_of(stack)}/sync/")
    assert "used up" not in page.text
