"""A funnel order placed in the CRM and edited there afterwards: Shopify's order follows the CRM
where an app can edit it (note, delivery address); what it cannot take is shown on sync health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.sync.sync_support import crm_writes, live_funnel, settle, shopify_graphql, user_id
from tests.integration.sync.test_orders_customers_sync import (
    checkout,
    crm_funnel_order,
    crm_orders,
    funnel_of,
    shopify_writes,
)
from tests.stack import Stack, running_stack

SHOPIFY_ORDERS = """
{ orders(first: 5) { nodes {
    id name note cancelledAt displayFinancialStatus
    shippingAddress { firstName address1 address2 city zip }
} } }
"""
NEW_ADDRESS = {
    "first_name": "Bo",
    "last_name": "Chen",
    "address": "9 Birch Ln||Suite 5",
    "city": "Cambridge",
    "postal_code": "02139",
    "country_code": "US",
}


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        running.funnel_id = await live_funnel(running)  # type: ignore[attr-defined]
        yield running


async def edit_crm_order(stack: Stack, order_id: str, **changes: Any) -> None:
    edited = await stack.crm.put(f"/_sandbox/users/{await user_id(stack)}/orders/{order_id}", json=changes)
    assert edited.status_code == 200, edited.text
    await settle(stack)


async def the_shopify_order(stack: Stack) -> dict[str, Any]:
    (order,) = (await shopify_graphql(stack, SHOPIFY_ORDERS))["orders"]["nodes"]
    return dict(order)


async def sync_health(stack: Stack) -> str:
    return (await stack.client.get(f"/funnels/{funnel_of(stack)}/sync/")).text


async def test_a_new_note_and_address_in_the_crm_reach_the_shopify_order_once(stack: Stack) -> None:
    order = await crm_funnel_order(stack)
    crm_before = await crm_writes(stack)

    await edit_crm_order(stack, order["id"], operator_comment="Ring twice", shipping_address=NEW_ADDRESS)

    shopify_order = await the_shopify_order(stack)
    assert shopify_order["note"] == "Ring twice"
    assert shopify_order["shippingAddress"] == {
        "firstName": "Bo",
        "address1": "9 Birch Ln",
        "address2": "Suite 5",
        "city": "Cambridge",
        "zip": "02139",
    }
    assert (await shopify_writes(stack)).get("orderUpdate") == 1
    # Shopify's orders/updated for our write does not come back to the CRM.
    assert await crm_writes(stack) == crm_before
    assert len(await crm_orders(stack)) == 1
    page = await sync_health(stack)
    assert "Nothing failed in the last 24 hours." in page

    # The same content again (a repeat, or an edit of what Shopify does not hold) writes nothing.
    await edit_crm_order(stack, order["id"], operator_comment="Ring twice")
    assert (await shopify_writes(stack)).get("orderUpdate") == 1


async def test_a_cancellation_in_the_crm_is_shown_for_the_merchant_to_make_in_shopify(stack: Stack) -> None:
    order = await crm_funnel_order(stack)

    await edit_crm_order(stack, order["id"], status="cancelled")

    shopify_order = await the_shopify_order(stack)
    assert shopify_order["cancelledAt"] is None  # never cancelled by the app
    assert (await shopify_writes(stack)).get("orderUpdate", 0) == 0
    page = await sync_health(stack)
    assert "Cancelled in the CRM. FunnelSync does not cancel orders in Shopify" in page
    assert shopify_order["name"] in page  # the order as the merchant knows it in Shopify

    # Told once: the same status again adds nothing.
    await edit_crm_order(stack, order["id"], status="cancelled")
    assert (await sync_health(stack)).count("Cancelled in the CRM") == 1


async def test_a_payment_in_the_crm_is_shown_and_the_address_still_follows(stack: Stack) -> None:
    order = await crm_funnel_order(stack, status="pending")
    assert (await the_shopify_order(stack))["displayFinancialStatus"] == "PENDING"

    await edit_crm_order(stack, order["id"], status="paid", shipping_address=NEW_ADDRESS)

    assert (await the_shopify_order(stack))["shippingAddress"]["city"] == "Cambridge"
    page = await sync_health(stack)
    assert "Paid in the CRM. FunnelSync does not mark orders as paid in Shopify" in page
    assert "Its delivery address was updated in Shopify." in page


async def test_a_shopify_orders_edits_in_the_crm_stay_in_the_crm(stack: Stack) -> None:
    await checkout(stack)
    (order,) = await crm_orders(stack)

    await edit_crm_order(stack, order["id"], operator_comment="Edited in the CRM", status="cancelled")

    shopify_order = await the_shopify_order(stack)
    assert shopify_order["note"] == "Leave at the back door"  # Shopify's order is the source
    assert (await shopify_writes(stack)).get("orderUpdate", 0) == 0
    assert "Cancelled in the CRM" not in await sync_health(stack)
