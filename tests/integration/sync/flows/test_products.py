"""Keep Products Synchronized both ways (sync/flows/products.py): edits cross once, echoes stop, weights
and collections follow, nothing is written while the setting is off."""

from __future__ import annotations

import asyncio
from typing import Any

from funnels.tables import Funnel
from jobqueue.tables import InboxEvent
from sync import links
from sync.tables import SyncEntity
from tests.support.documented_payloads import product_with_more_than_100_variants
from tests.support.funnel_wizard import counters, post_form
from tests.support.live_funnel import (
    T_SHIRT_COLLECTIONS,
    T_SHIRT_GID,
    T_SHIRT_PRODUCT,
    T_SHIRT_VARIANT,
    crm_product,
    crm_writes,
    edit_in_crm,
    hold_shopify_webhooks,
    settle,
    shopify_graphql,
    shopify_price,
    shopify_writes,
)
from tests.support.shops import SHOP, post_webhook
from tests.support.stack import Stack


async def edit_in_shopify(stack: Stack, price: str) -> None:
    edited = await stack.shopify.patch(
        f"/_sandbox/shops/{SHOP}/products/{T_SHIRT_PRODUCT}",
        json={"variants": [{"id": T_SHIRT_VARIANT, "price": price}]},
    )
    assert edited.status_code == 200, edited.text
    await settle(stack)


async def test_a_funnel_variant_past_the_hundredth_is_synced_through_variant_gids(stack: Stack) -> None:
    await hold_shopify_webhooks(stack)  # the app hears of the edit only from the test
    await edit_in_shopify(stack, "27.50")
    assert (await crm_product(stack))["price"] != "27.50"

    # The product has 101 variants; the funnel's is the 101st, named in `variant_gids` only.
    payload = product_with_more_than_100_variants(T_SHIRT_PRODUCT, "T-Shirt", T_SHIRT_VARIANT)
    assert T_SHIRT_GID not in {variant["admin_graphql_api_id"] for variant in payload["variants"]}
    delivered = await post_webhook(stack.client, "products/update", payload, shop_domain=SHOP)
    assert delivered.status_code == 200, delivered.text
    await settle(stack)

    assert (await crm_product(stack))["price"] == "27.50"


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


VARIANT_WEIGHT = """query($id: ID!) { productVariant(id: $id) {
  inventoryItem { measurement { weight { value unit } } }
} }"""


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


# -- A product deleted in the CRM is unlinked and shown on sync health; Shopify keeps it, and the
# next catalog sync puts it back in the CRM.


VARIANT = "query($id: ID!) { productVariant(id: $id) { id product { status } } }"


async def crm_products(stack: Stack) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = (await stack.crm.get("/_sandbox/products")).json()["data"]
    return products


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


# -- A product deleted in Shopify is deactivated in the CRM; a products/delete for a product
#    Shopify still holds (a captured products/update re-sent under that topic: the HMAC covers
#    the body only) deactivates nothing.


async def test_a_product_deleted_in_shopify_is_deactivated_in_the_crm(stack: Stack) -> None:
    assert (await crm_product(stack))["active"] is True
    deleted = await stack.shopify.delete(f"/_sandbox/shops/{SHOP}/products/{T_SHIRT_PRODUCT}")
    assert deleted.status_code == 204, deleted.text
    await settle(stack)
    assert (await crm_product(stack))["active"] is False


async def test_a_products_delete_for_a_product_shopify_still_holds_deactivates_nothing(stack: Stack) -> None:
    before, writes = await crm_product(stack), await crm_writes(stack)
    update_body = {"id": int(T_SHIRT_PRODUCT), "title": "Classic Cotton T-Shirt", "variants": []}
    replayed = await post_webhook(
        stack.client, "products/delete", update_body, shop_domain=SHOP, webhook_id="replayed-as-delete"
    )
    assert replayed.status_code == 200, replayed.text
    await settle(stack)
    handled = await InboxEvent.select(InboxEvent.topic, InboxEvent.status).where(
        InboxEvent.delivery_key.like("%replayed-as-delete")
    )
    assert handled == [{"topic": "products/delete", "status": "processed"}]
    assert await crm_product(stack) == before
    assert await crm_writes(stack) == writes
