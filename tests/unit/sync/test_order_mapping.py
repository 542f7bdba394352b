"""Orders keep every synced field across Shopify → CRM → Shopify (seeds/003), and what a CRM
order's later edits change on its Shopify order, and what they cannot."""

from __future__ import annotations

from typing import Any

import pytest

from sync.order_mapping import (
    crm_fulfillment_body,
    crm_order_body,
    crm_order_content,
    shopify_order_changes,
    shopify_order_input,
    status_not_applied,
)


def shopify_order() -> dict[str, Any]:
    return {
        "id": 5001,
        "admin_graphql_api_id": "gid://shopify/Order/5001",
        "email": "ann@example.com",
        "note": "Leave at the back door",
        "currency": "USD",
        "financial_status": "paid",
        "customer": {"id": 77, "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"},
        "shipping_address": {
            "first_name": "Ann",
            "last_name": "Lee",
            "address1": "1 Elm St",
            "address2": "Unit 9",
            "city": "Austin",
            "zip": "78701",
            "country_code": "US",
            "phone": "+15125550100",
        },
        "billing_address": {"address1": "PO Box 1", "city": "Dallas", "zip": "75001", "country_code": "US"},
        "line_items": [
            {"variant_id": 11, "name": "T-Shirt – M", "sku": "TS-M", "quantity": 2, "price": "19.99"},
            {"variant_id": None, "name": "Gift wrapping", "sku": "", "quantity": 1, "price": "3"},
        ],
    }


def test_a_shopify_order_reaches_the_crm_with_note_delivery_address_and_custom_lines() -> None:
    body = crm_order_body(
        shopify_order(),
        customer_id="cus_1",
        product_ids={"gid://shopify/ProductVariant/11": "prod_1"},
        campaign_id="cmp_1",
    )
    assert body["operator_comment"] == "Leave at the back door"
    assert body["shipping_address"]["address"] == "1 Elm St||Unit 9"
    assert body["shipping_address"]["city"] == "Austin"  # the delivery city, not billing's Dallas
    assert body["items"] == [
        {"product_id": "prod_1", "name": "T-Shirt – M", "sku": "TS-M", "quantity": 2, "price": "19.99"},
        # Not a catalog product: on the order, without a product.
        {"product_id": None, "name": "Gift wrapping", "sku": "", "quantity": 1, "price": "3.00"},
    ]
    assert (body["status"], body["source"], body["campaign_id"]) == ("paid", "shopify", "cmp_1")


def test_a_crm_order_becomes_a_shopify_order_with_custom_lines_kept() -> None:
    crm_order = {
        "id": "ord_9",
        "currency": "USD",
        "status": "paid",
        "operator_comment": "Call first",
        "items": [
            {"product_id": "prod_1", "name": "T-Shirt", "quantity": 1, "price": "19.99"},
            {"product_id": None, "name": "Engraving", "sku": "ENG", "quantity": 1, "price": "5"},
        ],
        "shipping_address": {
            "first_name": "Bo",
            "last_name": "Chen",
            "address": "2 Oak Ave||Apt 3",
            "city": "Boston",
            "postal_code": "02101",
            "country_code": "US",
            "phone": "+16175550100",
        },
    }
    customer = {"email": "bo@example.com", "first_name": "Bo", "last_name": "Chen"}
    order_input = shopify_order_input(crm_order, customer, {"prod_1": "gid://shopify/ProductVariant/11"})
    assert order_input["lineItems"][0] == {"quantity": 1, "variantId": "gid://shopify/ProductVariant/11"}
    assert order_input["lineItems"][1]["title"] == "Engraving"
    assert "variantId" not in order_input["lineItems"][1]
    assert (order_input["shippingAddress"]["address1"], order_input["shippingAddress"]["address2"]) == (
        "2 Oak Ave",
        "Apt 3",
    )
    assert order_input["customer"]["toUpsert"]["email"] == "bo@example.com"
    assert (order_input["note"], order_input["financialStatus"]) == ("Call first", "PAID")


CRM_ORDER: dict[str, Any] = {
    "id": "ord_1",
    "operator_comment": "Call before delivery",
    "status": "paid",
    "shipping_address": {
        "first_name": "Bo",
        "last_name": "Chen",
        "address": "2 Oak Ave||Apt 3",
        "city": "Boston",
        "region": "MA",
        "postal_code": "02101",
        "country_code": "US",
        "phone": "+16175550100",
    },
}
SHOPIFY_ORDER: dict[str, Any] = {
    "id": "gid://shopify/Order/1",
    "name": "#1001",
    "note": "Call before delivery",
    "cancelledAt": None,
    "displayFinancialStatus": "PAID",
    "shippingAddress": {
        "firstName": "Bo",
        "lastName": "Chen",
        "address1": "2 Oak Ave",
        "address2": "Apt 3",
        "city": "Boston",
        "provinceCode": "MA",
        "zip": "02101",
        "countryCodeV2": "US",
        "phone": "+16175550100",
    },
}


def test_an_order_both_sides_agree_on_needs_no_change() -> None:
    assert shopify_order_changes(CRM_ORDER, SHOPIFY_ORDER) == {}
    assert status_not_applied(CRM_ORDER, SHOPIFY_ORDER) is None


def test_a_new_note_and_address_become_the_order_input() -> None:
    edited = {
        **CRM_ORDER,
        "operator_comment": "  Ring twice ",
        "shipping_address": {**CRM_ORDER["shipping_address"], "address": "9 Birch Ln", "city": "Cambridge"},
    }

    assert shopify_order_changes(edited, SHOPIFY_ORDER) == {
        "note": "Ring twice",
        "shippingAddress": {
            "firstName": "Bo",
            "lastName": "Chen",
            "address1": "9 Birch Ln",
            "address2": None,
            "city": "Cambridge",
            "provinceCode": "MA",
            "zip": "02101",
            "countryCode": "US",
            "phone": "+16175550100",
        },
    }


def test_a_note_removed_in_the_crm_is_removed_and_a_missing_address_leaves_shopifys() -> None:
    edited = {**CRM_ORDER, "operator_comment": "", "shipping_address": None}

    assert shopify_order_changes(edited, SHOPIFY_ORDER) == {"note": None}


def test_a_cancellation_or_payment_shopify_does_not_show_is_named() -> None:
    assert status_not_applied({**CRM_ORDER, "status": "cancelled"}, SHOPIFY_ORDER) == "cancelled"
    pending = {**SHOPIFY_ORDER, "displayFinancialStatus": "PENDING"}
    assert status_not_applied(CRM_ORDER, pending) == "paid"
    assert status_not_applied({**CRM_ORDER, "status": "fulfilled"}, pending) == "paid"
    assert status_not_applied({**CRM_ORDER, "status": "pending"}, pending) is None
    cancelled = {**pending, "cancelledAt": "2026-12-01T10:00:00Z"}
    assert status_not_applied({**CRM_ORDER, "status": "cancelled"}, cancelled) is None


def test_the_content_its_link_holds_changes_with_the_note_address_or_status_only() -> None:
    content = crm_order_content(CRM_ORDER)
    assert crm_order_content({**CRM_ORDER, "items": [{"name": "Engraving"}]}) == content
    assert crm_order_content({**CRM_ORDER, "status": "cancelled"}) != content
    assert crm_order_content({**CRM_ORDER, "operator_comment": "Other"}) != content


def test_a_cancelled_order_reaches_the_crm_as_cancelled_whatever_its_payment_says() -> None:
    # Shopify keeps the financial status of a cancelled order (`paid` until it is refunded);
    # `cancelled_at` is what says it is cancelled.
    order = {**shopify_order(), "cancelled_at": "2026-12-07T16:30:00-05:00", "cancel_reason": "customer"}
    body = crm_order_body(order, customer_id="c1", product_ids={}, campaign_id=None)
    assert body["status"] == "cancelled"
    fulfilled = {**order, "fulfillment_status": "fulfilled"}
    assert (
        crm_order_body(fulfilled, customer_id="c1", product_ids={}, campaign_id=None)["status"] == "cancelled"
    )


def test_an_order_not_cancelled_keeps_its_payment_status() -> None:
    order = {**shopify_order(), "cancelled_at": None}
    assert crm_order_body(order, customer_id="c1", product_ids={}, campaign_id=None)["status"] == "paid"


@pytest.mark.parametrize(
    ("shopify_status", "crm_status"),
    [
        # Shopify's fulfillment statuses (the webhook's `status`); only `success` has shipped.
        ("pending", "pending"),
        ("open", "pending"),
        ("success", "success"),
        ("cancelled", "cancelled"),
        ("error", "failed"),
        ("failure", "failed"),
        ("a_status_added_later", "pending"),
        (None, "pending"),
    ],
)
def test_each_shopify_fulfillment_status_has_its_crm_status(
    shopify_status: str | None, crm_status: str
) -> None:
    fulfillment = {"id": 5678901234567, "order_id": 7393834213400, "status": shopify_status}
    assert crm_fulfillment_body(fulfillment)["status"] == crm_status
