"""Shopify's global ids are made, read and told apart by one module."""

from __future__ import annotations

from connectors.shopify_ids import gid, gid_of, is_gid, numeric_id


def test_a_gid_is_made_from_a_type_and_a_numeric_id() -> None:
    assert gid("Order", 900) == "gid://shopify/Order/900"


def test_a_payloads_gid_is_its_admin_graphql_api_id_or_made_from_its_id() -> None:
    assert gid_of("Customer", {"id": 7, "admin_graphql_api_id": "gid://shopify/Customer/7"}) == (
        "gid://shopify/Customer/7"
    )
    assert gid_of("Fulfillment", {"id": 12}) == "gid://shopify/Fulfillment/12"


def test_a_gid_is_told_apart_by_its_type() -> None:
    assert is_gid("gid://shopify/ProductVariant/1", "ProductVariant")
    assert not is_gid("gid://shopify/Product/1", "ProductVariant")
    assert not is_gid("gid://shopify/ProductVariantX/1", "ProductVariant")
    assert not is_gid("guest:ann@example.com", "Customer")
    assert not is_gid(None, "Order")


def test_the_numeric_id_is_read_back_and_a_guest_key_has_none() -> None:
    assert numeric_id("gid://shopify/Order/900") == "900"
    assert numeric_id("guest:ann@example.com") is None
