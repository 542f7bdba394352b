"""What a CRM order's later edits change on its Shopify order, and what they cannot."""

from __future__ import annotations

from typing import Any

from sync.order_mapping import crm_order_content, shopify_order_changes, status_not_applied

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
