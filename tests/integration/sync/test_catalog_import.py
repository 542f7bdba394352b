"""The catalog reaches the CRM: page by page up to 500 variants, past that through a bulk operation."""

from __future__ import annotations

import asyncio
from typing import Any

from jobqueue.tables import Job
from lib.clock import utcnow
from sync.catalog_import import JOB_IMPORT_CATALOG_BULK
from sync.tables import SyncLink
from sync.topics import JOB_IMPORT_CATALOG
from tests.support.funnel_wizard import post_form
from tests.support.live_funnel import (
    T_SHIRT_PRODUCT,
    T_SHIRT_VARIANT,
    change_price_unheard,
    crm_product,
    crm_writes,
    live_page_prices,
    settle,
    shopify_graphql,
)
from tests.support.shops import SHOP
from tests.support.stack import Stack


async def variants_in_crm(stack: Stack) -> int:
    return len((await stack.crm.get("/_sandbox/products")).json()["data"])


async def settle_bulk(stack: Stack) -> None:
    """Runs the import until its bulk operation is done (the sandbox takes half a second)."""
    for _ in range(100):
        await settle(stack)
        waiting = await Job.count().where((Job.kind == JOB_IMPORT_CATALOG_BULK) & (Job.status == "queued"))
        if not waiting:
            return
        # The finish webhook makes the job due at once; until then it polls every few seconds.
        await Job.update({Job.run_at: utcnow()}).where(Job.kind == JOB_IMPORT_CATALOG_BULK)
        await asyncio.sleep(0.2)
    raise AssertionError("the bulk import did not finish")


async def test_a_big_catalog_is_imported_through_a_bulk_operation(stack: Stack) -> None:
    before = await variants_in_crm(stack)
    generated = await stack.shopify.post(
        f"/_sandbox/shops/{SHOP}/catalog/generate", json={"products": 200, "variants_per_product": 3}
    )
    assert generated.status_code == 201, generated.text

    synced = await post_form(stack, f"/funnels/{stack.funnel_id}/sync/catalog")  # type: ignore[attr-defined]
    assert synced.status_code == 303  # type: ignore[attr-defined]
    await settle_bulk(stack)

    assert await variants_in_crm(stack) == before + 600
    assert await SyncLink.count().where(SyncLink.entity_type == "product") == before + 600
    bulk_runs = await Job.count().where((Job.kind == JOB_IMPORT_CATALOG_BULK) & (Job.status == "done"))
    assert bulk_runs == 1
    # The next refresh is already scheduled, once.
    assert await Job.count().where((Job.kind == JOB_IMPORT_CATALOG) & (Job.status == "queued")) == 1
    page = await stack.client.get(f"/funnels/{stack.funnel_id}/sync/")  # type: ignore[attr-defined]
    assert "Nothing failed in the last 24 hours." in page.text


VARIANT_WEIGHTS = """query($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on ProductVariant {
      id
      inventoryItem { measurement { weight { value unit } } }
      product { collections(first: 25) { nodes { title } } }
    }
  }
}"""
UNITS = {"GRAMS": "g", "KILOGRAMS": "kg", "OUNCES": "oz", "POUNDS": "lb"}


async def crm_products_by_variant(stack: Stack) -> dict[str, dict[str, Any]]:
    return {p["external_id"]: p for p in (await stack.crm.get("/_sandbox/products")).json()["data"]}


async def test_the_paged_import_carries_each_variants_weight_and_its_products_collections(
    stack: Stack,
) -> None:
    in_crm = await crm_products_by_variant(stack)
    assert len(in_crm) > 100
    nodes = (await shopify_graphql(stack, VARIANT_WEIGHTS, {"ids": list(in_crm)}))["nodes"]
    units = set()
    for variant in nodes:
        weight = variant["inventoryItem"]["measurement"]["weight"]
        crm = in_crm[variant["id"]]
        assert (crm["weight"], crm["weight_unit"]) == (weight["value"], UNITS[weight["unit"]])
        assert crm["collections"] == sorted(c["title"] for c in variant["product"]["collections"]["nodes"])
        units.add(crm["weight_unit"])
    assert len(nodes) == len(in_crm)
    assert units == {"g", "kg"}  # the seed weighs some products in grams, some in kilograms


async def test_the_bulk_import_carries_weights_and_collections_and_agrees_with_the_paged_one(
    stack: Stack,
) -> None:
    generated = await stack.shopify.post(
        f"/_sandbox/shops/{SHOP}/catalog/generate", json={"products": 200, "variants_per_product": 3}
    )
    assert generated.status_code == 201, generated.text
    tees = generated.json()["productIds"][:2]
    added = await stack.shopify.post(
        f"/_sandbox/shops/{SHOP}/collections", json={"title": "Tees", "productIds": tees}
    )
    assert added.status_code == 201, added.text
    seeded = await crm_products_by_variant(stack)
    writes = await crm_writes(stack)

    await post_form(stack, f"/funnels/{stack.funnel_id}/sync/catalog")  # type: ignore[attr-defined]
    await settle_bulk(stack)

    after = await crm_writes(stack)
    assert after.get("products.create", 0) - writes.get("products.create", 0) == 600
    # What the paged import wrote on install maps to the same content from the bulk file.
    assert after.get("products.update", 0) == writes.get("products.update", 0)
    in_crm = await crm_products_by_variant(stack)
    assert all(in_crm[variant] == product for variant, product in seeded.items())
    generated_products = [p for v, p in in_crm.items() if v not in seeded]
    tee_products = {f"gid://shopify/Product/{n}" for n in tees}
    in_tees = [p for p in generated_products if p["product_external_id"] in tee_products]
    assert len(in_tees) == 6
    assert all(p["collections"] == ["Tees"] for p in in_tees)
    assert sum(p["collections"] == [] for p in generated_products) == 600 - 6
    assert {(p["weight"], p["weight_unit"]) for p in generated_products} == {(100.0, "g")}


async def test_a_refresh_writes_only_what_changed(stack: Stack) -> None:
    writes = await crm_writes(stack)
    edited = await stack.shopify.put(
        f"/_sandbox/shops/{SHOP}/products/{T_SHIRT_PRODUCT}/variants/{T_SHIRT_VARIANT}",
        json={"barcode": "400638133393"},
    )
    assert edited.status_code == 200, edited.text
    await post_form(stack, f"/funnels/{stack.funnel_id}/sync/catalog")  # type: ignore[attr-defined]
    await settle(stack)

    after = await crm_writes(stack)
    # The webhook or the refresh wrote the one changed variant; nothing else was rewritten.
    assert after.get("products.update", 0) - writes.get("products.update", 0) == 1
    assert after.get("products.create", 0) == writes.get("products.create", 0)


async def test_a_price_change_the_refresh_finds_reaches_the_live_page(stack: Stack) -> None:
    await change_price_unheard(stack, "24.99")
    assert (await live_page_prices(stack))[0] == "$19.99"

    await post_form(stack, f"/funnels/{stack.funnel_id}/sync/catalog")  # type: ignore[attr-defined]
    await settle(stack)

    assert (await crm_product(stack))["price"] == "24.99"
    assert (await live_page_prices(stack))[0] == "$24.99"


async def test_asking_twice_queues_one_import(stack: Stack) -> None:
    for _ in range(2):
        await post_form(stack, f"/funnels/{stack.funnel_id}/sync/catalog")  # type: ignore[attr-defined]
    assert await Job.count().where((Job.kind == JOB_IMPORT_CATALOG) & (Job.status == "queued")) == 1


async def test_the_catalog_is_imported_into_the_crm_on_install(stack: Stack) -> None:
    products = (await stack.crm.get("/_sandbox/products")).json()["data"]
    variants = await SyncLink.count().where(SyncLink.entity_type == "product")
    assert len(products) == variants > 100  # every variant of the seeded store, linked
    health = await stack.client.get(f"/funnels/{stack.funnel_id}/sync/")  # type: ignore[attr-defined]
    assert "Catalog imported" not in health.text  # the summary is an activity, not a failure
    assert "Nothing failed in the last 24 hours." in health.text
