"""A product deleted in the CRM is unlinked and shown on sync health; Shopify keeps it, and the
next catalog sync puts it back in the CRM."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sync import links
from sync.tables import SyncEntity
from tests.integration.funnels.test_wizard_first_steps import SHOP, post_form
from tests.integration.sync.sync_support import T_SHIRT_GID, live_funnel, settle, shopify_graphql
from tests.stack import Stack, running_stack

VARIANT = "query($id: ID!) { productVariant(id: $id) { id product { status } } }"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        running.funnel_id = await live_funnel(running)  # type: ignore[attr-defined]
        yield running


async def crm_products(stack: Stack) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = (await stack.crm.get("/_sandbox/products")).json()["data"]
    return products


async def shopify_writes(stack: Stack) -> dict[str, int]:
    counts: dict[str, int] = (await stack.shopify.get(f"/_sandbox/shops/{SHOP}/writes")).json()["writes"]
    return counts


async def test_a_product_deleted_in_the_crm_is_unlinked_kept_in_shopify_and_shown(stack: Stack) -> None:
    funnel_id = stack.funnel_id  # type: ignore[attr-defined]
    # A catalog product no funnel sells (the CRM refuses to delete one its offers use).
    product = next(p for p in await crm_products(stack) if p["external_id"] != T_SHIRT_GID)
    shopify_before = await shopify_writes(stack)

    crm = await stack.app.state.clients.crm_for(SHOP)  # the merchant, deleting it in the CRM
    await crm.json("DELETE", f"/api/v1/products/{product['id']}", ok=(204,))
    await settle(stack)

    assert await links.by_crm_id(SHOP, SyncEntity.PRODUCT, product["id"]) is None
    assert await links.by_shopify_id(SHOP, SyncEntity.PRODUCT, product["external_id"]) is None
    variant = (await shopify_graphql(stack, VARIANT, {"id": product["external_id"]}))["productVariant"]
    assert variant["id"] == product["external_id"]  # never deleted in Shopify
    assert await shopify_writes(stack) == shopify_before
    page = (await stack.client.get(f"/funnels/{funnel_id}/sync/")).text
    assert "Deleted in the CRM. The product stays in Shopify" in page
    assert product["name"] in page

    # The next catalog sync puts it back, linked again.
    await post_form(stack, f"/funnels/{funnel_id}/sync/catalog")
    await settle(stack)
    (back,) = [p for p in await crm_products(stack) if p["external_id"] == product["external_id"]]
    link = await links.by_shopify_id(SHOP, SyncEntity.PRODUCT, product["external_id"])
    assert link is not None
    assert link.crm_id == back["id"]


async def test_a_crm_product_deleted_that_was_never_synced_changes_nothing(stack: Stack) -> None:
    crm = await stack.app.state.clients.crm_for(SHOP)
    body = {
        "external_id": "crm-only-1",
        "product_external_id": "crm-only",
        "name": "CRM-only",
        "price": "5.00",
        "currency": "USD",
    }
    made = await crm.json("POST", "/api/v1/products", json=body)
    await settle(stack)
    await crm.json("DELETE", f"/api/v1/products/{made['id']}", ok=(204,))
    await settle(stack)

    page = (await stack.client.get(f"/funnels/{stack.funnel_id}/sync/")).text  # type: ignore[attr-defined]
    assert "Deleted in the CRM" not in page
