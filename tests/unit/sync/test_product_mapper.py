"""Shopify product payloads mapped to CRM products (fields of seeds/003)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync.mappers import content_hash, crm_products_from_shopify, variant_name

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
