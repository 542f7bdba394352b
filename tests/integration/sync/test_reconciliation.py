"""Reconciliation: a change whose webhook was lost for good is found by comparing both sides, and repaired."""

from __future__ import annotations

import asyncio

from jobqueue.tables import InboxEvent, Job
from tests.support.funnel_wizard import post_form
from tests.support.live_funnel import (
    T_SHIRT_COLLECTIONS,
    T_SHIRT_PRODUCT,
    change_price_unheard,
    crm_product,
    edit_in_crm,
    live_page_prices,
    settle,
    shopify_price,
)
from tests.support.shops import SHOP
from tests.support.stack import Stack


async def test_reconciliation_repairs_a_change_whose_webhook_was_lost(stack: Stack) -> None:
    funnel_id = stack.funnel_id  # type: ignore[attr-defined]
    # The CRM's webhook for this edit never arrives: the receiver is down for every attempt.
    down = await stack.crm.post("/_sandbox/webhooks/faults", json={"kind": "receiver_down", "count": 10})
    assert down.status_code in (200, 201), down.text
    await edit_in_crm(stack, price="27.00")
    assert await shopify_price(stack) == "19.99"
    await stack.crm.delete("/_sandbox/webhooks/faults")

    await post_form(stack, f"/funnels/{funnel_id}/sync/reconcile")
    await settle(stack)

    assert await shopify_price(stack) == "27.00"
    page = await stack.client.get(f"/funnels/{funnel_id}/sync/")
    assert "Shopify variant updated from the CRM" in page.text


async def lose_collection_events() -> None:
    """As when Shopify gives up delivering: the collection events never reach the sync."""
    for _ in range(200):
        if await InboxEvent.exists().where(InboxEvent.topic == "collections/create"):
            break
        await asyncio.sleep(0.01)  # the sandbox delivers in the background
    await Job.delete().where(Job.ordering_key.like("shopify:collection:%"))


async def test_reconciliation_repairs_a_collection_change_whose_event_was_lost(stack: Stack) -> None:
    funnel_id = stack.funnel_id  # type: ignore[attr-defined]
    summer = await stack.shopify.post(
        f"/_sandbox/shops/{SHOP}/collections", json={"title": "Summer", "productIds": [T_SHIRT_PRODUCT]}
    )
    assert summer.status_code == 201, summer.text
    await lose_collection_events()
    await settle(stack)
    assert (await crm_product(stack))["collections"] == T_SHIRT_COLLECTIONS

    await post_form(stack, f"/funnels/{funnel_id}/sync/reconcile")
    await settle(stack)

    assert (await crm_product(stack))["collections"] == sorted([*T_SHIRT_COLLECTIONS, "Summer"])
    page = await stack.client.get(f"/funnels/{funnel_id}/sync/")
    assert "CRM product updated from Shopify" in page.text


async def test_a_price_change_whose_webhook_was_lost_reaches_the_live_page_at_reconciliation(
    stack: Stack,
) -> None:
    funnel_id = stack.funnel_id  # type: ignore[attr-defined]
    await change_price_unheard(stack, "24.99")
    assert (await live_page_prices(stack))[0] == "$19.99"

    await post_form(stack, f"/funnels/{funnel_id}/sync/reconcile")
    await settle(stack)

    assert (await crm_product(stack))["price"] == "24.99"
    assert (await live_page_prices(stack))[0] == "$24.99"
