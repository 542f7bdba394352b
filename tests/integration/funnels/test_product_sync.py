"""Keep Products Synchronized: a merchant's edit in Shopify reaches the funnel's CRM product, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from funnels.tables import Funnel
from jobqueue.tables import InboxEvent
from tests.integration.funnels.test_publish import add_payment_processor, complete_wizard, counters
from tests.integration.funnels.test_wizard_first_steps import SHOP, post_form
from tests.integration.iam.support import install_shop, sign_in
from tests.stack import Stack, running_stack

T_SHIRT_PRODUCT, T_SHIRT_VARIANT = "8000000000002", "8000000000008"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        # Through the real install: the app registers its webhooks, so edits reach it.
        link = (await running.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")).json()["access_token"]
        await install_shop(running.app, SHOP, access_token=link)
        await running.drain()
        await sign_in(running.client, SHOP)
        await add_payment_processor(running)
        funnel_id = await complete_wizard(running)
        await post_form(running, f"/funnels/{funnel_id}/publish")
        await running.drain()
        yield running


async def edit_price(stack: Stack, price: str) -> None:
    before = await InboxEvent.count()
    edited = await stack.shopify.patch(
        f"/_sandbox/shops/{SHOP}/products/{T_SHIRT_PRODUCT}",
        json={"variants": [{"id": T_SHIRT_VARIANT, "price": price}]},
    )
    assert edited.status_code == 200, edited.text
    for _ in range(500):  # the sandbox delivers webhooks in the background
        if await InboxEvent.count() > before:
            break
        await asyncio.sleep(0.01)
    await stack.drain()


async def crm_price(stack: Stack) -> str:
    products = (await stack.crm.get("/_sandbox/products")).json()["data"]
    return str(next(p["price"] for p in products if p["external_id"].endswith(T_SHIRT_VARIANT)))


def product_writes(writes: dict[str, Any]) -> int:
    """How many product updates the CRM answered, whatever the status."""
    return sum(
        sum(int(count) for count in entry.get("responses", {}).values())
        for route, entry in writes.items()
        if route.startswith("PUT /api/v1/products")
    )


async def test_a_price_change_in_shopify_updates_the_crm_product_once(stack: Stack) -> None:
    assert await crm_price(stack) == "19.99"
    await edit_price(stack, "24.99")
    assert await crm_price(stack) == "24.99"
    writes = product_writes(await counters(stack, "crm"))
    await edit_price(stack, "24.99")  # nothing changed for the CRM: no write
    assert product_writes(await counters(stack, "crm")) == writes


async def test_nothing_is_written_when_keep_products_synchronized_is_off(stack: Stack) -> None:
    await Funnel.update({Funnel.keep_products_synced: False}).where(Funnel.shop_domain == SHOP)
    await edit_price(stack, "30.00")
    assert await crm_price(stack) == "19.99"
