"""Shopify product payloads mapped to CRM products (fields of seeds/003)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from hypothesis import given
from hypothesis import strategies as st

from sync.mappers import (
    content_hash,
    crm_product_from_graphql,
    crm_products_from_shopify,
    product_canonical,
    variant_name,
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
        },
    ],
}


def test_each_variant_becomes_a_crm_product_with_the_source_fields() -> None:
    first, second = crm_products_from_shopify(PAYLOAD, "USD", "https://shop.example")
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
    }
    assert second["image_url"] == "https://cdn/tee-navy.png"  # the variant's own image wins


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


def test_the_webhook_and_the_graphql_reads_of_a_variant_agree_on_its_content() -> None:
    """The catalog import (GraphQL) and the webhook must hash alike, or each would rewrite the other."""
    from_webhook = crm_products_from_shopify(PAYLOAD, "USD", "https://shop")[0]
    product = {
        "id": "gid://shopify/Product/7",
        "title": "Classic Tee",
        "handle": "classic-tee",
        "vendor": "Acme",
        "status": "ACTIVE",
        "featuredImage": {"url": "https://cdn/tee.png"},
    }
    variant = {
        "id": "gid://shopify/ProductVariant/1",
        "sku": "TEE-S-W",
        "barcode": "123",
        "price": "19.99",
        "inventoryQuantity": 4,
        "selectedOptions": [{"name": "Size", "value": "S"}, {"name": "Color", "value": "White"}],
        "image": None,
    }
    from_graphql = crm_product_from_graphql(product, variant, "USD", "https://shop")
    assert content_hash(product_canonical(from_graphql)) == content_hash(product_canonical(from_webhook))


@given(
    price=st.decimals(min_value="0.01", max_value="99999", places=2).map(str),
    sku=st.text(alphabet="ABCDEFGHIJ-0123456789", max_size=12),
    barcode=st.none() | st.text(alphabet="0123456789", min_size=8, max_size=13),
)
def test_a_variant_round_trip_through_the_crm_keeps_the_fields_written_back(
    price: str, sku: str, barcode: str | None
) -> None:
    """Shopify → CRM → Shopify: what the CRM → Shopify flow writes equals what Shopify had."""
    first = cast(list[dict[str, Any]], PAYLOAD["variants"])[0]
    payload = {**PAYLOAD, "variants": [{**first, "price": price, "sku": sku, "barcode": barcode}]}
    crm = product_canonical(crm_products_from_shopify(payload, "USD", "https://shop")[0])
    assert crm["price"] == str(Decimal(price).quantize(Decimal("0.01")))
    assert (crm["sku"], crm["barcode"]) == (sku, barcode)
    assert product_canonical(crm) == crm  # the CRM's copy maps to the same content
