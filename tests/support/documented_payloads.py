"""Webhook bodies shaped as Shopify documents them for API 2025-01 and later, for the flows' tests.

Where they come from: Shopify's webhook reference (shopify.dev/docs/api/webhooks, the
orders/create, fulfillments/create and products/update samples of API 2026-04) and the 2025-01
changelog, as recorded in /work/shared/STACK-NOTES.md ("Shopify, learned on 2026-12-07"):
a customer (customers/*, and the `customer` of orders/*) carries no `tags`,
`email_marketing_consent` or `sms_marketing_consent`; products/* list the first 100 variants in
`variants` and every variant in `variant_gids`; ids are 64-bit; without protected customer data
access an order carries no names, email, phone or street address; a fulfillment's `status` is
one of pending, open, success, cancelled, error, failure.
"""

from __future__ import annotations

from typing import Any

# The fields Shopify's webhooks no longer send with a customer (since API 2025-01).
REMOVED_CUSTOMER_FIELDS = ("tags", "email_marketing_consent", "sms_marketing_consent")

# A 64-bit id as Shopify's are, of an order our Shopify sandbox does not hold.
UNKNOWN_ORDER_ID = 7393834213400


def as_shopify_sends_customer(customer: dict[str, Any]) -> dict[str, Any]:
    """A customer body without the fields Shopify stopped sending."""
    return {key: value for key, value in customer.items() if key not in REMOVED_CUSTOMER_FIELDS}


def as_shopify_sends_order(order: dict[str, Any]) -> dict[str, Any]:
    """An orders/* body whose `customer` lacks the fields Shopify stopped sending."""
    customer = order.get("customer")
    return {**order, "customer": as_shopify_sends_customer(customer) if customer else customer}


def _without_protected_address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    # Without address access the street, names and phone are null; the region stays.
    if address is None:
        return None
    hidden = ("first_name", "last_name", "name", "address1", "address2", "phone", "company", "zip")
    return {**address, **dict.fromkeys(hidden)}


def without_protected_customer_data(order: dict[str, Any]) -> dict[str, Any]:
    """An orders/* body as an app without protected customer data access receives it."""
    customer = order.get("customer")
    if customer:
        customer = {
            **as_shopify_sends_customer(customer),
            **dict.fromkeys(("first_name", "last_name", "email", "phone")),
            "default_address": _without_protected_address(customer.get("default_address")),
        }
    return {
        **order,
        **dict.fromkeys(("email", "contact_email", "phone")),
        "customer": customer,
        "shipping_address": _without_protected_address(order.get("shipping_address")),
        "billing_address": _without_protected_address(order.get("billing_address")),
    }


def order_without_protected_customer_data(variant_id: int) -> dict[str, Any]:
    """An orders/create body (after Shopify's sample) for an order our Shopify sandbox does not
    hold, received without protected customer data access."""
    return {
        "id": UNKNOWN_ORDER_ID,
        "admin_graphql_api_id": f"gid://shopify/Order/{UNKNOWN_ORDER_ID}",
        "name": "#9999",
        "order_number": 9999,
        "email": None,
        "contact_email": None,
        "phone": None,
        "currency": "USD",
        "financial_status": "paid",
        "fulfillment_status": None,
        "cancelled_at": None,
        "note": None,
        "source_name": "web",
        "created_at": "2026-12-07T16:30:00-05:00",
        "updated_at": "2026-12-07T16:30:01-05:00",
        "customer": {
            "id": 7393834213401,
            "admin_graphql_api_id": "gid://shopify/Customer/7393834213401",
            "first_name": None,
            "last_name": None,
            "email": None,
            "phone": None,
            "state": "disabled",
            "currency": "USD",
            "created_at": "2026-12-07T16:29:00-05:00",
            "updated_at": "2026-12-07T16:30:00-05:00",
            "default_address": None,
        },
        "shipping_address": _without_protected_address(
            {
                "city": "Austin",
                "province": "Texas",
                "province_code": "TX",
                "country": "United States",
                "country_code": "US",
            }
        ),
        "billing_address": None,
        "line_items": [
            {
                "id": 7393834213402,
                "admin_graphql_api_id": "gid://shopify/LineItem/7393834213402",
                "variant_id": variant_id,
                "name": "T-Shirt",
                "title": "T-Shirt",
                "sku": "",
                "quantity": 1,
                "price": "19.99",
            }
        ],
        "fulfillments": [],
        "refunds": [],
    }


def fulfillment(fulfillment_id: int, order_id: int | str, status: str) -> dict[str, Any]:
    """A fulfillments/create or fulfillments/update body (after Shopify's sample)."""
    return {
        "id": fulfillment_id,
        "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fulfillment_id}",
        "order_id": int(order_id),
        "status": status,
        "created_at": "2026-12-07T16:40:00-05:00",
        "updated_at": "2026-12-07T16:40:00-05:00",
        "service": "manual",
        "shipment_status": None,
        "location_id": 7393834213450,
        "origin_address": None,
        "tracking_company": "UPS",
        "tracking_number": "1Z2345",
        "tracking_numbers": ["1Z2345"],
        "tracking_url": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z2345",
        "tracking_urls": ["https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z2345"],
        "receipt": {},
        "name": "#1001.1",
        "line_items": [],
    }


def product_with_more_than_100_variants(
    product_id: str, title: str, last_variant_id: str, status: str = "active"
) -> dict[str, Any]:
    """A products/update body of a product with 101 variants: `variants` holds the first 100
    in full, `variant_gids` names all 101; `last_variant_id` is the 101st."""
    first_hundred = [7393834213500 + n for n in range(100)]
    updated_at = "2026-12-07T16:50:00-05:00"
    return {
        "id": int(product_id),
        "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
        "title": title,
        "status": status,
        "updated_at": updated_at,
        "options": [{"name": "Size", "position": 1, "values": [f"S{n}" for n in range(101)]}],
        "variants": [
            {
                "id": variant_id,
                "admin_graphql_api_id": f"gid://shopify/ProductVariant/{variant_id}",
                "product_id": int(product_id),
                "title": f"S{n}",
                "option1": f"S{n}",
                "price": "10.00",
                "position": n + 1,
                "updated_at": updated_at,
            }
            for n, variant_id in enumerate(first_hundred)
        ],
        "variant_gids": [
            {"admin_graphql_api_id": f"gid://shopify/ProductVariant/{variant_id}", "updated_at": updated_at}
            for variant_id in [*first_hundred, int(last_variant_id)]
        ],
    }
