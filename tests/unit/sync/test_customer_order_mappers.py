"""Customers and orders keep every synced field across Shopify → CRM → Shopify (seeds/003)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import Rejected
from sync.activity import plain_reason
from sync.customer_mapping import (
    ADDRESS_SEPARATOR,
    crm_customer_body,
    customer_from_crm,
    customer_from_shopify,
    join_address,
    shopify_customer_input,
    split_address,
)
from sync.order_mapping import crm_order_body, shopify_order_input

# Words as merchants type them: no leading/trailing spaces and no "|" (the separator's own character).
words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="|,"),
    min_size=1,
    max_size=20,
)
maybe_words = st.none() | words
phones = st.none() | st.from_regex(r"\+[1-9][0-9]{7,13}", fullmatch=True)


@given(address1=words, address2=maybe_words)
def test_address_and_apartment_survive_the_join_and_split(address1: str, address2: str | None) -> None:
    joined = join_address(address1, address2)
    assert (ADDRESS_SEPARATOR in str(joined)) == (address2 is not None)
    assert split_address(joined) == (address1, address2)


def test_the_apartment_sits_right_of_the_separator() -> None:
    assert join_address("12 Main St", "Apt 4") == "12 Main St||Apt 4"
    assert split_address("12 Main St||Apt 4") == ("12 Main St", "Apt 4")
    assert join_address("12 Main St", "") == "12 Main St"


addresses = st.fixed_dictionaries(
    {
        "first_name": maybe_words,
        "last_name": maybe_words,
        "address1": words,
        "address2": maybe_words,
        "city": maybe_words,
        "province_code": maybe_words,
        "zip": maybe_words,
        "country_code": st.sampled_from(["US", "GB", "DE", "FR"]),
        "phone": phones,
    }
)
shopify_customers = st.fixed_dictionaries(
    {
        "id": st.integers(min_value=1, max_value=10**12),
        "first_name": maybe_words,
        "last_name": maybe_words,
        "email": st.none() | st.emails(),
        "phone": phones,
        "tags": st.lists(words, max_size=4).map(", ".join),
        "email_marketing_consent": st.sampled_from(["subscribed", "not_subscribed"]).map(
            lambda state: {"state": state}
        ),
        "default_address": st.none() | addresses,
        # Billing data is never synced; its presence must change nothing.
        "billing_address": st.none() | addresses,
    }
)


@given(customer=shopify_customers)
def test_a_customer_round_trip_keeps_every_synced_field(customer: dict[str, Any]) -> None:
    canonical = customer_from_shopify(customer)
    crm_body = crm_customer_body(canonical, f"gid://shopify/Customer/{customer['id']}")
    back = shopify_customer_input(customer_from_crm(crm_body), "gid://shopify/Customer/1")

    assert back["firstName"] == customer["first_name"]
    assert back["lastName"] == customer["last_name"]
    assert back["email"] == customer["email"]
    assert back["phone"] == customer["phone"]
    assert set(back["tags"]) == {tag.strip() for tag in customer["tags"].split(",") if tag.strip()}
    subscribed = customer["email_marketing_consent"]["state"] == "subscribed"
    if customer["email"] is None:
        assert "emailMarketingConsent" not in back  # Shopify takes no consent without an email
    else:
        expected_state = "SUBSCRIBED" if subscribed else "UNSUBSCRIBED"
        assert back["emailMarketingConsent"]["marketingState"] == expected_state
    shipping = customer["default_address"]
    if shipping is None:
        assert back["addresses"] == []
    else:
        (address,) = back["addresses"]
        assert (address["address1"], address["address2"]) == (shipping["address1"], shipping["address2"])
        assert address["city"] == shipping["city"]
        assert address["zip"] == shipping["zip"]
        assert address["provinceCode"] == shipping["province_code"]
        assert address["countryCode"] == shipping["country_code"]
        assert address["phone"] == shipping["phone"]
        assert (address["firstName"], address["lastName"]) == (shipping["first_name"], shipping["last_name"])
    # The CRM gets the delivery address with the apartment after the separator, never billing.
    assert crm_body["address"] == (
        None if shipping is None else {**canonical["address"], "phone": shipping["phone"]}
    )


@given(customer=shopify_customers)
def test_the_same_customer_always_maps_to_the_same_crm_content(customer: dict[str, Any]) -> None:
    canonical = customer_from_shopify(customer)
    assert customer_from_crm(crm_customer_body(canonical, "x")) == canonical


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


def rejected(code: str = "validation_failed", **fields: str) -> Rejected:
    return Rejected("CRM", "refused", status_code=422, code=code, fields=fields)


def test_each_crm_refusal_reads_as_something_the_merchant_can_fix() -> None:
    duplicate = plain_reason("customer", rejected(email="A customer with this email already exists."))
    assert "already has this email" in duplicate
    phone = plain_reason("customer", rejected(phone="The phone number does not match the format of GB."))
    assert "phone number is not valid" in phone
    assert "GB" in phone
    owned = plain_reason("order", rejected("external_id_taken"))
    assert "another store" in owned
    address = plain_reason(
        "order",
        rejected(
            **{
                "shipping_address.city": "Required for the delivery address.",
                "shipping_address.postal_code": "Required for the delivery address.",
            }
        ),
    )
    assert "missing its city, postal code" in address
    pending = plain_reason("customer", rejected("customer_has_pending_orders"))
    assert "pending" in pending
