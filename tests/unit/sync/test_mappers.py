"""Shopify product payloads mapped to CRM products (fields of seeds/003)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.mappers import (
    MAX_COLLECTIONS,
    collection_titles,
    content_hash,
    crm_product_from_graphql,
    crm_products_from_shopify,
    product_canonical,
    shopify_variant_input,
    variant_ids_of,
    variant_name,
    weight_in_grams,
)

PAYLOAD = {
    "id": 7,
    "admin_graphql_api_id": "gid://shopify/Product/7",
    "title": "Classic Tee",
    "vendor": "Acme",
    "handle": "classic-tee",
    "status": "active",
    "options": [{"name": "Size"}, {"name": "Color"}],
    "images": [{"id": 70, "src": "https://cdn/tee.png"}, {"id": 71, "src": "https://cdn/tee-navy.png"}],
    "image": {"id": 70, "src": "https://cdn/tee.png"},
    "variants": [
        {
            "id": 1,
            "admin_graphql_api_id": "gid://shopify/ProductVariant/1",
            "option1": "S",
            "option2": "White",
            "price": "19.99",
            "sku": "TEE-S-W",
            "barcode": "123",
            "inventory_quantity": 4,
            "image_id": None,
            "grams": 200,
            "weight": 0.2,
            "weight_unit": "kg",
        },
        {
            "id": 2,
            "admin_graphql_api_id": "gid://shopify/ProductVariant/2",
            "option1": "M",
            "option2": "Navy",
            "price": "21.99",
            "sku": "TEE-M-N",
            "barcode": None,
            "inventory_quantity": 0,
            "image_id": 71,
            "grams": 198,
            "weight": 7.0,
            "weight_unit": "oz",
        },
    ],
}


def test_each_variant_becomes_a_crm_product_with_the_source_fields() -> None:
    first, second = crm_products_from_shopify(
        PAYLOAD, "USD", "https://shop.example", collections=["Tees", "Summer", "Tees"]
    )
    assert first == {
        "external_id": "gid://shopify/ProductVariant/1",
        "product_external_id": "gid://shopify/Product/7",
        "sku": "TEE-S-W",
        "name": "Classic Tee – S / White",
        "price": "19.99",
        "currency": "USD",
        "image_url": "https://cdn/tee.png",
        "barcode": "123",
        "options": {"Size": "S", "Color": "White"},
        "active": True,
        "stock": 4,
        "vendor": "Acme",
        "url": "https://shop.example/products/classic-tee",
        "weight": 0.2,
        "weight_unit": "kg",
        "collections": ["Summer", "Tees"],
    }
    assert second["image_url"] == "https://cdn/tee-navy.png"  # the variant's own image wins
    assert (second["weight"], second["weight_unit"]) == (7.0, "oz")  # the merchant's unit is kept


def test_only_the_requested_variants_are_mapped_and_drafts_are_inactive() -> None:
    draft = {**PAYLOAD, "status": "draft"}
    mapped = crm_products_from_shopify(draft, "EUR", "https://s", {"gid://shopify/ProductVariant/2"})
    assert [row["external_id"] for row in mapped] == ["gid://shopify/ProductVariant/2"]
    assert mapped[0]["active"] is False


def test_a_default_variant_is_named_after_the_product_alone() -> None:
    assert variant_name("Poster", ["Default Title"]) == "Poster"


@given(
    st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=8), st.none()), max_size=6)
)
def test_content_hash_ignores_key_order(body: dict[str, object]) -> None:
    assert content_hash(body) == content_hash(dict(reversed(list(body.items()))))


GRAPHQL_PRODUCT = {
    "id": "gid://shopify/Product/7",
    "title": "Classic Tee",
    "handle": "classic-tee",
    "vendor": "Acme",
    "status": "ACTIVE",
    "featuredImage": {"url": "https://cdn/tee.png"},
    "collections": {"nodes": [{"title": "Tees"}, {"title": "Summer"}]},
}
GRAPHQL_VARIANT = {
    "id": "gid://shopify/ProductVariant/1",
    "sku": "TEE-S-W",
    "barcode": "123",
    "price": "19.99",
    "inventoryQuantity": 4,
    "selectedOptions": [{"name": "Size", "value": "S"}, {"name": "Color", "value": "White"}],
    "image": None,
    "inventoryItem": {"measurement": {"weight": {"value": 0.2, "unit": "KILOGRAMS"}}},
}


def test_the_webhook_and_the_graphql_reads_of_a_variant_agree_on_its_content() -> None:
    """The catalog import (GraphQL) and the webhook must hash alike, or each would rewrite the other.

    A products/update payload has no collections: the webhook mapper is given the titles
    GraphQL read, so every other field, the weight included, is compared for real.
    """
    [from_webhook, _] = crm_products_from_shopify(
        PAYLOAD, "USD", "https://shop", collections=["Tees", "Summer"]
    )
    from_graphql = crm_product_from_graphql(GRAPHQL_PRODUCT, GRAPHQL_VARIANT, "USD", "https://shop")
    assert from_graphql == from_webhook  # the same body, not only the same hash
    assert content_hash(product_canonical(from_graphql)) == content_hash(product_canonical(from_webhook))


def test_without_the_collections_the_webhook_body_differs_only_in_them() -> None:
    from_webhook = crm_products_from_shopify(PAYLOAD, "USD", "https://shop")[0]
    from_graphql = crm_product_from_graphql(GRAPHQL_PRODUCT, GRAPHQL_VARIANT, "USD", "https://shop")
    assert {k for k in from_graphql if from_graphql[k] != from_webhook[k]} == {"collections"}


GRAPHQL_UNITS = {"g": "GRAMS", "kg": "KILOGRAMS", "oz": "OUNCES", "lb": "POUNDS"}


@given(
    value=st.decimals(min_value=0, max_value=100_000, places=3).map(float),
    unit=st.sampled_from(sorted(GRAPHQL_UNITS)),
)
def test_a_weight_reads_alike_from_the_webhook_and_from_graphql(value: float, unit: str) -> None:
    first = cast(list[dict[str, Any]], PAYLOAD["variants"])[0]
    payload = {**PAYLOAD, "variants": [{**first, "weight": value, "weight_unit": unit}]}
    variant = {
        **GRAPHQL_VARIANT,
        "inventoryItem": {"measurement": {"weight": {"value": value, "unit": GRAPHQL_UNITS[unit]}}},
    }
    [from_webhook] = crm_products_from_shopify(payload, "USD", "https://shop", collections=["Tees", "Summer"])
    from_graphql = crm_product_from_graphql(GRAPHQL_PRODUCT, variant, "USD", "https://shop")
    assert (from_graphql["weight"], from_graphql["weight_unit"]) == (value, unit)
    assert content_hash(product_canonical(from_graphql)) == content_hash(product_canonical(from_webhook))


def test_a_payload_with_grams_only_agrees_with_graphql_grams() -> None:
    first = cast(list[dict[str, Any]], PAYLOAD["variants"])[0]
    legacy = {k: v for k, v in first.items() if k not in ("weight", "weight_unit")}
    from_webhook = crm_products_from_shopify({**PAYLOAD, "variants": [legacy]}, "USD", "https://s")[0]
    assert (from_webhook["weight"], from_webhook["weight_unit"]) == (200.0, "g")
    assert (
        product_canonical(from_webhook)["weight"]
        == product_canonical(crm_products_from_shopify(PAYLOAD, "USD", "https://s")[0])["weight"]
    )


@pytest.mark.parametrize(
    ("weight", "unit", "grams"),
    [
        (0.8, "kg", "800.00"),
        (800, "g", "800.00"),
        (1, "lb", "453.59"),
        (7, "oz", "198.45"),
        (0, "kg", "0.00"),
        (None, "kg", None),
        (1.5, None, None),  # a weight without a unit says nothing
        (1.5, "stone", None),
        (True, "kg", None),
        ("heavy", "kg", None),
    ],
)
def test_weights_compare_in_grams_whatever_their_unit(
    weight: object, unit: object, grams: str | None
) -> None:
    assert weight_in_grams(weight, unit) == grams
    assert product_canonical({**CRM_COPY, "weight": weight, "weight_unit": unit})["weight"] == grams


CRM_COPY: dict[str, Any] = {
    "id": "prd_1",
    "external_id": "gid://shopify/ProductVariant/1",
    "product_external_id": "gid://shopify/Product/7",
    "sku": "TEE-S-W",
    "name": "Classic Tee – S / White",
    "price": "19.99",
    "currency": "USD",
    "image_url": None,
    "barcode": "123",
    "options": {},
    "active": True,
    "stock": 4,
    "vendor": "Acme",
    "url": None,
    "weight": 0.8,
    "weight_unit": "kg",
    "collections": ["Summer", "Tees"],
    "created_at": "2026-01-01T00:00:00Z",
}


def test_the_same_weight_in_another_unit_and_reordered_collections_are_no_change() -> None:
    moved = {**CRM_COPY, "weight": 800.0, "weight_unit": "g", "collections": ["Tees", "Summer", "Tees"]}
    assert content_hash(product_canonical(moved)) == content_hash(product_canonical(CRM_COPY))
    heavier = {**CRM_COPY, "weight": 0.81}
    assert content_hash(product_canonical(heavier)) != content_hash(product_canonical(CRM_COPY))
    regrouped = {**CRM_COPY, "collections": ["Summer"]}
    assert content_hash(product_canonical(regrouped)) != content_hash(product_canonical(CRM_COPY))


def test_a_product_keeps_its_first_25_collections_sorted_each_once() -> None:
    titles = [f"Group {n:02d}" for n in range(30, 0, -1)]
    product = {**GRAPHQL_PRODUCT, "collections": {"nodes": [{"title": t} for t in titles]}}
    body = crm_product_from_graphql(product, GRAPHQL_VARIANT, "USD", "https://shop")
    assert body["collections"] == sorted(titles[:MAX_COLLECTIONS])
    assert collection_titles(["b", "a", "b", "", None]) == ["a", "b"]


def test_a_variant_without_a_weight_maps_to_none() -> None:
    variant = {**GRAPHQL_VARIANT, "inventoryItem": {"measurement": {"weight": None}}}
    body = crm_product_from_graphql({**GRAPHQL_PRODUCT, "collections": None}, variant, "USD", "https://s")
    assert (body["weight"], body["weight_unit"], body["collections"]) == (None, None, [])
    assert product_canonical(body)["weight"] is None


def test_the_write_back_to_shopify_carries_the_crm_weight_in_its_unit_and_never_collections() -> None:
    assert shopify_variant_input(CRM_COPY) == {
        "id": "gid://shopify/ProductVariant/1",
        "price": "19.99",
        "barcode": "123",
        "inventoryItem": {"sku": "TEE-S-W", "measurement": {"weight": {"value": 0.8, "unit": "KILOGRAMS"}}},
    }
    # A CRM product without a weight or SKU (made before either was synced) leaves Shopify's.
    bare = shopify_variant_input({**CRM_COPY, "sku": "", "weight": None, "weight_unit": None})
    assert "inventoryItem" not in bare


@given(
    price=st.decimals(min_value="0.01", max_value="99999", places=2).map(str),
    sku=st.text(alphabet="ABCDEFGHIJ-0123456789", max_size=12),
    barcode=st.none() | st.text(alphabet="0123456789", min_size=8, max_size=13),
    weight=st.decimals(min_value=0, max_value=10_000, places=3).map(float),
    unit=st.sampled_from(sorted(GRAPHQL_UNITS)),
    collections=st.lists(st.text(min_size=1, max_size=12).filter(str.strip), max_size=30),
)
def test_a_variant_round_trip_through_the_crm_keeps_the_fields_written_back(
    price: str, sku: str, barcode: str | None, weight: float, unit: str, collections: list[str]
) -> None:
    """Shopify → CRM → Shopify: what the CRM → Shopify flow writes equals what Shopify had,
    and Shopify's echo of that write hashes like the link the write saved (no bounce)."""
    first = cast(list[dict[str, Any]], PAYLOAD["variants"])[0]
    variant = {**first, "price": price, "sku": sku, "barcode": barcode, "weight": weight, "weight_unit": unit}
    payload = {**PAYLOAD, "variants": [variant]}
    sent = crm_products_from_shopify(payload, "USD", "https://shop", collections=collections)[0]
    crm_copy = {**sent, "id": "prd_1", "created_at": "2026-01-01T00:00:00Z"}  # as the CRM returns it
    crm = product_canonical(crm_copy)
    assert crm == product_canonical(sent)  # the CRM's copy maps to the same content
    assert crm["price"] == str(Decimal(price).quantize(Decimal("0.01")))
    assert (crm["sku"], crm["barcode"]) == (sku, barcode)
    assert crm["collections"] == sorted(set(collections[:MAX_COLLECTIONS]))

    written = shopify_variant_input(crm_copy)
    assert (written["price"], written["barcode"]) == (crm["price"], barcode)
    assert written["inventoryItem"]["measurement"]["weight"] == {"value": weight, "unit": GRAPHQL_UNITS[unit]}
    assert written["inventoryItem"].get("sku", "") == sku
    # Shopify now holds what was written; reading it back maps to the link's content.
    echoed = crm_product_from_graphql(
        {**GRAPHQL_PRODUCT, "collections": {"nodes": [{"title": t} for t in collections]}},
        {
            **GRAPHQL_VARIANT,
            "sku": written["inventoryItem"].get("sku", ""),
            "price": written["price"],
            "barcode": written["barcode"],
            "inventoryItem": written["inventoryItem"],
        },
        "USD",
        "https://shop",
    )
    assert content_hash(product_canonical(echoed)) == content_hash(crm)


def test_every_variant_of_a_product_payload_is_named_even_past_the_hundredth() -> None:
    # products/* carry full details for the first 100 variants only; `variant_gids` names them all.
    gids = [f"gid://shopify/ProductVariant/{7393834213400 + n}" for n in range(101)]
    payload = {
        "id": 7393834213300,
        "variants": [{"id": 7393834213400 + n, "admin_graphql_api_id": gids[n]} for n in range(100)],
        "variant_gids": [
            {"admin_graphql_api_id": variant, "updated_at": "2026-12-07T16:30:00-05:00"} for variant in gids
        ],
    }
    assert variant_ids_of(payload) == set(gids)
    assert variant_ids_of({"variants": payload["variants"]}) == set(gids[:100])
