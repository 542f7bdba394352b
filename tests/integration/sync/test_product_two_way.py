"""Keep Products Synchronized both ways: edits cross once, echoes stop, drift is repaired, health shows it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from jobqueue.tables import InboxEvent, Job
from sync.tables import SyncLink
from tests.integration.funnels.test_wizard_first_steps import SHOP, post_form
from tests.integration.sync.sync_support import (
    T_SHIRT_GID,
    T_SHIRT_PRODUCT,
    T_SHIRT_VARIANT,
    crm_product,
    crm_writes,
    live_funnel,
    settle,
    shopify_graphql,
    user_id,
)
from tests.stack import Stack, running_stack

VARIANT_PRICE = "query($id: ID!) { productVariant(id: $id) { price sku } }"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        running.funnel_id = await live_funnel(running)  # type: ignore[attr-defined]
        yield running


async def shopify_price(stack: Stack) -> str:
    data = await shopify_graphql(stack, VARIANT_PRICE, {"id": T_SHIRT_GID})
    return str(data["productVariant"]["price"])


async def edit_in_crm(stack: Stack, **changes: object) -> None:
    product = await crm_product(stack)
    path = f"/_sandbox/users/{await user_id(stack)}/products/{product['id']}"
    edited = await stack.crm.put(path, json=changes)
    assert edited.status_code == 200, edited.text
    await settle(stack)


async def edit_in_shopify(stack: Stack, price: str) -> None:
    edited = await stack.shopify.patch(
        f"/_sandbox/shops/{SHOP}/products/{T_SHIRT_PRODUCT}",
        json={"variants": [{"id": T_SHIRT_VARIANT, "price": price}]},
    )
    assert edited.status_code == 200, edited.text
    await settle(stack)


async def shopify_writes(stack: Stack) -> dict[str, int]:
    counts: dict[str, int] = (await stack.shopify.get(f"/_sandbox/shops/{SHOP}/writes")).json()["writes"]
    return counts


async def test_the_catalog_is_imported_into_the_crm_on_install(stack: Stack) -> None:
    products = (await stack.crm.get("/_sandbox/products")).json()["data"]
    variants = await SyncLink.count().where(SyncLink.entity_type == "product")
    assert len(products) == variants > 100  # every variant of the seeded store, linked
    health = await stack.client.get(f"/funnels/{stack.funnel_id}/sync/")  # type: ignore[attr-defined]
    assert "Catalog imported" not in health.text  # the summary is an activity, not a failure
    assert "Nothing failed in the last 24 hours." in health.text


async def test_a_price_edited_in_the_crm_reaches_shopify_and_does_not_bounce_back(stack: Stack) -> None:
    crm_before, shopify_before = await crm_writes(stack), await shopify_writes(stack)
    await edit_in_crm(stack, price="21.50")

    assert await shopify_price(stack) == "21.50"
    shopify_after = await shopify_writes(stack)
    variant_updates = shopify_after.get("productVariantsBulkUpdate", 0)
    assert variant_updates == shopify_before.get("productVariantsBulkUpdate", 0) + 1
    # Shopify's products/update for our write arrives, maps to what the CRM holds, and stops.
    assert (await crm_writes(stack)).get("products.update", 0) == crm_before.get("products.update", 0)


async def test_edits_on_both_sides_settle_without_ping_pong(stack: Stack) -> None:
    await edit_in_shopify(stack, "30.00")
    await edit_in_crm(stack, price="31.00")
    await edit_in_shopify(stack, "32.00")
    crm_settled, shopify_settled = await crm_writes(stack), await shopify_writes(stack)

    await settle(stack)  # nothing left to bounce
    assert await crm_writes(stack) == crm_settled
    assert await shopify_writes(stack) == shopify_settled
    assert (await crm_product(stack))["price"] == "32.00"
    assert await shopify_price(stack) == "32.00"


async def test_the_crm_to_shopify_flow_is_off_with_keep_products_synchronized_off(stack: Stack) -> None:
    funnel_id = stack.funnel_id  # type: ignore[attr-defined]
    await post_form(stack, f"/funnels/{funnel_id}/settings/", {"keep_orders_synced": "on"})
    await edit_in_crm(stack, price="44.00")
    assert await shopify_price(stack) == "19.99"


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


VARIANT_WEIGHT = """query($id: ID!) { productVariant(id: $id) {
  inventoryItem { measurement { weight { value unit } } }
} }"""
# The collections the seed puts a best-selling apparel item under 30 in.
T_SHIRT_COLLECTIONS = ["Apparel", "Best sellers", "Home page", "Under 30"]


async def shopify_weight(stack: Stack) -> dict[str, object]:
    data = await shopify_graphql(stack, VARIANT_WEIGHT, {"id": T_SHIRT_GID})
    weight: dict[str, object] = data["productVariant"]["inventoryItem"]["measurement"]["weight"]
    return weight


async def test_the_crm_product_carries_the_variants_weight_and_the_products_collections(stack: Stack) -> None:
    product = await crm_product(stack)
    assert (product["weight"], product["weight_unit"]) == (180.0, "g")
    assert product["collections"] == T_SHIRT_COLLECTIONS


async def test_weight_and_collections_changed_in_shopify_reach_the_crm_once(stack: Stack) -> None:
    # Collection changes send collections/* (not products/update): the next product event
    # (here the weight edit) reads the product as it is now, collections included.
    summer = await stack.shopify.post(
        f"/_sandbox/shops/{SHOP}/collections", json={"title": "Summer", "productIds": [T_SHIRT_PRODUCT]}
    )
    assert summer.status_code == 201, summer.text
    crm_before, shopify_before = await crm_writes(stack), await shopify_writes(stack)
    edited = await stack.shopify.put(
        f"/_sandbox/shops/{SHOP}/products/{T_SHIRT_PRODUCT}/variants/{T_SHIRT_VARIANT}",
        json={"inventoryItem": {"measurement": {"weight": {"value": 0.2, "unit": "KILOGRAMS"}}}},
    )
    assert edited.status_code == 200, edited.text
    await settle(stack)

    product = await crm_product(stack)
    assert (product["weight"], product["weight_unit"]) == (0.2, "kg")
    assert product["collections"] == sorted([*T_SHIRT_COLLECTIONS, "Summer"])
    crm_after = await crm_writes(stack)
    assert crm_after.get("products.update", 0) == crm_before.get("products.update", 0) + 1
    # The CRM's product.updated for our write comes back and stops: nothing is written to Shopify.
    assert await shopify_writes(stack) == shopify_before


async def test_a_weight_edited_in_the_crm_reaches_shopify_in_its_unit_and_does_not_bounce_back(
    stack: Stack,
) -> None:
    crm_before, shopify_before = await crm_writes(stack), await shopify_writes(stack)
    await edit_in_crm(stack, weight=0.25, weight_unit="kg")

    assert await shopify_weight(stack) == {"value": 0.25, "unit": "KILOGRAMS"}
    shopify_after = await shopify_writes(stack)
    variant_updates = shopify_after.get("productVariantsBulkUpdate", 0)
    assert variant_updates == shopify_before.get("productVariantsBulkUpdate", 0) + 1
    assert (await crm_writes(stack)).get("products.update", 0) == crm_before.get("products.update", 0)


async def test_a_price_edited_in_the_crm_leaves_shopifys_weight_as_it_was(stack: Stack) -> None:
    await edit_in_crm(stack, price="22.00")
    assert await shopify_price(stack) == "22.00"
    assert await shopify_weight(stack) == {"value": 180.0, "unit": "GRAMS"}


async def test_collections_are_shopifys_a_crm_edit_of_them_is_put_back(stack: Stack) -> None:
    await edit_in_crm(stack, collections=["Chosen in the CRM"])
    assert (await crm_product(stack))["collections"] == T_SHIRT_COLLECTIONS
    crm_settled, shopify_settled = await crm_writes(stack), await shopify_writes(stack)
    await settle(stack)  # and nothing keeps bouncing
    assert (await crm_writes(stack), await shopify_writes(stack)) == (crm_settled, shopify_settled)


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


async def test_a_collection_made_with_a_funnel_product_reaches_its_crm_product_groups(stack: Stack) -> None:
    crm_before = await crm_writes(stack)
    made = await stack.shopify.post(
        f"/_sandbox/shops/{SHOP}/collections", json={"title": "Gift ideas", "productIds": [T_SHIRT_PRODUCT]}
    )
    assert made.status_code == 201, made.text
    await settle(stack)

    assert "Gift ideas" in (await crm_product(stack))["collections"]
    # Only the T-shirt's variant the funnel sells changed; the hoodie's CRM product is left alone.
    writes = (await crm_writes(stack)).get("products.update", 0) - crm_before.get("products.update", 0)
    assert writes == 1
