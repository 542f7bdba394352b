"""Webhook payloads in Shopify's REST shape (numeric ids, snake_case), as webhooks send them.

The keys follow Shopify's sample payloads in its webhooks reference (API 2026-07, kept as
fixtures in tests/fixtures/shopify_webhooks/, which the sandbox's contract test compares these
with): no key Shopify does not send, the same JSON type for each. Since API 2025-01 a customer
in a webhook (customers/*, an order's `customer`) carries no `tags`, `email_marketing_consent`
or `sms_marketing_consent`, and none of the order counters; products/* give full details for
the first 100 variants only, every variant being listed in `variant_gids`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.shopify.models import (
    BulkOperation,
    Collection,
    Customer,
    Fulfillment,
    Image,
    LineItem,
    MailingAddress,
    Order,
    Product,
    Shop,
    gid,
)

# Webhook topics as the GraphQL enum names them and as headers/payloads spell them.
TOPICS: dict[str, str] = {
    "APP_UNINSTALLED": "app/uninstalled",
    "APP_SUBSCRIPTIONS_UPDATE": "app_subscriptions/update",
    "BULK_OPERATIONS_FINISH": "bulk_operations/finish",
    "COLLECTIONS_CREATE": "collections/create",
    "COLLECTIONS_UPDATE": "collections/update",
    "COLLECTIONS_DELETE": "collections/delete",
    "CUSTOMERS_CREATE": "customers/create",
    "CUSTOMERS_UPDATE": "customers/update",
    "CUSTOMERS_DELETE": "customers/delete",
    "FULFILLMENTS_CREATE": "fulfillments/create",
    "FULFILLMENTS_UPDATE": "fulfillments/update",
    "INVENTORY_LEVELS_UPDATE": "inventory_levels/update",
    "ORDERS_CREATE": "orders/create",
    "ORDERS_UPDATED": "orders/updated",
    "ORDERS_PAID": "orders/paid",
    "ORDERS_CANCELLED": "orders/cancelled",
    "ORDERS_FULFILLED": "orders/fulfilled",
    "ORDERS_DELETE": "orders/delete",
    "PRODUCTS_CREATE": "products/create",
    "PRODUCTS_UPDATE": "products/update",
    "PRODUCTS_DELETE": "products/delete",
    "SHOP_UPDATE": "shop/update",
}
TOPIC_ENUMS: dict[str, str] = {rest: enum for enum, rest in TOPICS.items()}

# Delivered from the app's configuration, never subscribable through the API.
COMPLIANCE_TOPICS: tuple[str, ...] = ("customers/data_request", "customers/redact", "shop/redact")


def rest_time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _image(product: Product, image: Image, position: int, public_base: str) -> dict[str, Any]:
    return {
        "id": image.id,
        "admin_graphql_api_id": gid("ProductImage", image.id),
        "product_id": product.id,
        "position": position,
        "alt": image.alt_text,
        "width": image.width,
        "height": image.height,
        "src": f"{public_base}/_sandbox/images/{image.id}.svg",
        "variant_ids": [v.id for v in product.variants if v.image_id == image.id],
        "created_at": rest_time(product.created_at),
        "updated_at": rest_time(product.updated_at),
    }


# products/* carry full details for this many variants; the rest only in `variant_gids`.
WEBHOOK_VARIANT_DETAILS = 100


def product_payload(product: Product, public_base: str) -> dict[str, Any]:
    """The `products/create` and `products/update` body."""
    images = [_image(product, img, i, public_base) for i, img in enumerate(product.images, 1)]
    variants = []
    for variant in product.variants[:WEBHOOK_VARIANT_DETAILS]:
        opts = [*variant.option_values, None, None, None][:3]
        variants.append(
            {
                "id": variant.id,
                "admin_graphql_api_id": gid("ProductVariant", variant.id),
                "product_id": product.id,
                "title": variant.title,
                "price": variant.price,
                "compare_at_price": variant.compare_at_price,
                "sku": variant.sku,
                "barcode": variant.barcode,
                "position": variant.position,
                "inventory_policy": variant.inventory_policy.lower(),
                "option1": opts[0],
                "option2": opts[1],
                "option3": opts[2],
                "taxable": variant.taxable,
                "image_id": variant.image_id,
                "inventory_item_id": variant.inventory_item_id,
                "inventory_quantity": variant.inventory_quantity,
                "old_inventory_quantity": variant.inventory_quantity,
                "created_at": rest_time(variant.created_at),
                "updated_at": rest_time(variant.updated_at),
            }
        )
    return {
        "id": product.id,
        "admin_graphql_api_id": gid("Product", product.id),
        "title": product.title,
        "body_html": product.description_html,
        "vendor": product.vendor,
        "product_type": product.product_type,
        "handle": product.handle,
        "status": product.status.value.lower(),
        "tags": ", ".join(product.tags),
        "published_scope": "web",
        "template_suffix": None,
        "created_at": rest_time(product.created_at),
        "updated_at": rest_time(product.updated_at),
        "published_at": rest_time(product.published_at),
        "variants": variants,
        "variant_gids": [
            {
                "admin_graphql_api_id": gid("ProductVariant", v.id),
                "updated_at": rest_time(v.updated_at),
            }
            for v in product.variants
        ],
        "options": [
            {
                "id": option.id,
                "product_id": product.id,
                "name": option.name,
                "position": position,
                "values": list(option.values),
            }
            for position, option in enumerate(product.options, 1)
        ],
        "images": images,
        "image": images[0] if images else None,
        "has_variants_that_requires_components": False,
        "category": None,
        "media": [
            {
                "id": img["id"],
                "admin_graphql_api_id": gid("MediaImage", img["id"]),
                "product_id": product.id,
                "position": img["position"],
                "alt": img["alt"],
                "status": "READY",
                "media_content_type": "IMAGE",
                "preview_image": {
                    "src": img["src"],
                    "width": img["width"],
                    "height": img["height"],
                },
            }
            for img in images
        ],
    }


def product_delete_payload(product_id: int) -> dict[str, Any]:
    return {"id": product_id}


def collection_delete_payload(collection_id: int) -> dict[str, Any]:
    """The `collections/delete` body: the id, the scope and the global id."""
    return {
        "id": collection_id,
        "published_scope": "web",
        "admin_graphql_api_id": gid("Collection", collection_id),
    }


def collection_payload(collection: Collection) -> dict[str, Any]:
    """The `collections/create` and `collections/update` body (no member list, as in Shopify)."""
    return {
        "id": collection.id,
        "admin_graphql_api_id": gid("Collection", collection.id),
        "handle": collection.handle,
        "title": collection.title,
        "body_html": collection.description_html,
        "sort_order": "manual",
        "template_suffix": None,
        "published_scope": "web",
        "published_at": rest_time(collection.updated_at),
        "updated_at": rest_time(collection.updated_at),
    }


# -- customers ------------------------------------------------------------------------


def address_payload(
    address: MailingAddress, *, customer_id: int | None = None, default: bool | None = None
) -> dict[str, Any]:
    """A REST address: with `customer_id` and `default` an entry of a customer's address
    book; without them an order's shipping or billing address (no id, with coordinates)."""
    name = " ".join(n for n in (address.first_name, address.last_name) if n)
    if customer_id is None:
        return {
            "first_name": address.first_name,
            "address1": address.address1,
            "phone": address.phone,
            "city": address.city,
            "zip": address.zip,
            "province": address.province,
            "country": address.country,
            "last_name": address.last_name,
            "address2": address.address2,
            "company": address.company,
            "latitude": None,
            "longitude": None,
            "name": name,
            "country_code": address.country_code,
            "province_code": address.province_code,
        }
    body: dict[str, Any] = {
        "id": address.id,
        "customer_id": customer_id,
        "first_name": address.first_name,
        "last_name": address.last_name,
        "company": address.company,
        "address1": address.address1,
        "address2": address.address2,
        "city": address.city,
        "province": address.province,
        "country": address.country,
        "zip": address.zip,
        "phone": address.phone,
        "name": name,
        "province_code": address.province_code,
        "country_code": address.country_code,
        "country_name": address.country,
    }
    if default is not None:
        body["default"] = default
    return body


def customer_payload(shop: Shop, customer: Customer, *, with_addresses: bool = True) -> dict[str, Any]:
    """The `customers/create` and `customers/update` body (and an order's `customer`, which
    has no `addresses`). Since API 2025-01 there is no `tags` nor marketing consent here (the
    app reads them through the Admin API), and Shopify's documented payload has no order
    counters either."""
    default = customer.default_address
    body: dict[str, Any] = {
        "id": customer.id,
        "created_at": rest_time(customer.created_at),
        "updated_at": rest_time(customer.updated_at),
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "state": "disabled",
        "note": customer.note,
        "verified_email": customer.email is not None,
        "multipass_identifier": None,
        "tax_exempt": False,
        "email": customer.email,
        "phone": customer.phone,
        "currency": shop.currency_code,
    }
    if with_addresses:
        body["addresses"] = [
            address_payload(a, customer_id=customer.id, default=i == 0)
            for i, a in enumerate(customer.addresses)
        ]
    body |= {
        "tax_exemptions": [],
        "admin_graphql_api_id": gid("Customer", customer.id),
        "default_address": (
            address_payload(default, customer_id=customer.id, default=True) if default else None
        ),
    }
    return body


def customer_delete_payload(customer_id: int) -> dict[str, Any]:
    """The `customers/delete` body: Shopify sends the id and little else."""
    return {
        "id": customer_id,
        "tax_exemptions": [],
        "admin_graphql_api_id": gid("Customer", customer_id),
    }


# -- orders and fulfillments ----------------------------------------------------------


def _price_set(amount: str, currency: str) -> dict[str, Any]:
    money_json = {"amount": amount, "currency_code": currency}
    return {"shop_money": money_json, "presentment_money": dict(money_json)}


def _rest_fulfillment_status(status: str) -> str | None:
    # REST: null (nothing fulfilled), "partial" or "fulfilled".
    return {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}.get(status)


def line_item_payload(order: Order, item: LineItem, *, quantity: int | None = None) -> dict[str, Any]:
    """An order's line item; with `quantity`, the part of it a fulfillment holds (which
    Shopify sends without `current_quantity`)."""
    fulfilled = order.fulfilled_quantity(item.id)
    status = "fulfilled" if fulfilled >= item.quantity else ("partial" if fulfilled else None)
    body: dict[str, Any] = {
        "id": item.id,
        "admin_graphql_api_id": gid("LineItem", item.id),
        "variant_id": item.variant_id,
        "product_id": item.product_id,
        "title": item.title,
        "variant_title": item.variant_title,
        "name": item.name,
        "sku": item.sku,
        "vendor": item.vendor,
        "quantity": item.quantity if quantity is None else quantity,
    }
    if quantity is None:
        body["current_quantity"] = item.quantity
    return body | {
        "fulfillable_quantity": 0 if order.cancelled_at else max(item.quantity - fulfilled, 0),
        "fulfillment_service": "manual",
        "fulfillment_status": status,
        "price": item.price,
        "price_set": _price_set(item.price, order.currency),
        "total_discount": "0.00",
        "total_discount_set": _price_set("0.00", order.currency),
        "requires_shipping": item.requires_shipping,
        "taxable": item.taxable,
        "gift_card": False,
        "grams": item.grams,
        "product_exists": item.product_id is not None,
        "variant_inventory_management": "shopify" if item.variant_id is not None else None,
        "properties": [],
        "tax_lines": [],
        "duties": [],
        "discount_allocations": [],
    }


def fulfillment_payload(order: Order, fulfillment: Fulfillment) -> dict[str, Any]:
    """The `fulfillments/create` and `fulfillments/update` body (and an order's fulfillments)."""
    lines = {li.id: li for li in order.line_items}
    return {
        "id": fulfillment.id,
        "admin_graphql_api_id": gid("Fulfillment", fulfillment.id),
        "order_id": order.id,
        "name": fulfillment.name,
        "status": fulfillment.status.lower(),
        "service": "manual",
        "shipment_status": None,
        "location_id": None,
        "origin_address": None,
        "email": order.email,
        "destination": address_payload(order.shipping_address) if order.shipping_address else None,
        "tracking_company": fulfillment.tracking_company,
        "tracking_number": fulfillment.tracking_numbers[0] if fulfillment.tracking_numbers else None,
        "tracking_numbers": list(fulfillment.tracking_numbers),
        "tracking_url": fulfillment.tracking_urls[0] if fulfillment.tracking_urls else None,
        "tracking_urls": list(fulfillment.tracking_urls),
        "receipt": {},
        "line_items": [
            line_item_payload(order, lines[fli.line_item_id], quantity=fli.quantity)
            for fli in fulfillment.line_items
            if fli.line_item_id in lines
        ],
        "created_at": rest_time(fulfillment.created_at),
        "updated_at": rest_time(fulfillment.updated_at),
    }


def order_payload(shop: Shop, order: Order) -> dict[str, Any]:
    """The `orders/create`, `orders/updated`, `orders/paid`, ... body."""
    customer = shop.customers.get(order.customer_id) if order.customer_id else None
    total = order.total_price
    return {
        "id": order.id,
        "admin_graphql_api_id": gid("Order", order.id),
        "name": order.name,
        "number": order.number - 1000,
        "order_number": order.number,
        "email": order.email,
        "contact_email": order.email,
        "phone": order.phone,
        "note": order.note,
        "note_attributes": [],
        "tags": ", ".join(order.tags),
        "po_number": order.po_number,
        "currency": order.currency,
        "presentment_currency": order.currency,
        "total_price": total,
        "subtotal_price": total,
        "total_line_items_price": total,
        "current_total_price": total,
        "total_tax": "0.00",
        "total_discounts": "0.00",
        "total_price_set": _price_set(total, order.currency),
        "total_weight": sum(li.grams * li.quantity for li in order.line_items),
        "taxes_included": False,
        "financial_status": order.financial_status.lower(),
        "fulfillment_status": _rest_fulfillment_status(order.fulfillment_status),
        "confirmed": True,
        "test": False,
        "source_name": order.source_name,
        "cancel_reason": order.cancel_reason.lower() if order.cancel_reason else None,
        "cancelled_at": rest_time(order.cancelled_at),
        "closed_at": rest_time(order.closed_at),
        "processed_at": rest_time(order.processed_at),
        "created_at": rest_time(order.created_at),
        "updated_at": rest_time(order.updated_at),
        "customer": customer_payload(shop, customer, with_addresses=False) if customer else None,
        "shipping_address": address_payload(order.shipping_address) if order.shipping_address else None,
        "billing_address": address_payload(order.billing_address) if order.billing_address else None,
        "line_items": [line_item_payload(order, li) for li in order.line_items],
        "fulfillments": [fulfillment_payload(order, f) for f in order.fulfillments],
        "shipping_lines": [],
        "discount_codes": [],
        "refunds": [],
    }


def order_delete_payload(order_id: int) -> dict[str, Any]:
    return {"id": order_id}


def bulk_operation_finish_payload(operation: BulkOperation) -> dict[str, Any]:
    """The `bulk_operations/finish` body."""
    return {
        "admin_graphql_api_id": gid("BulkOperation", operation.id),
        "completed_at": rest_time(operation.completed_at),
        "created_at": rest_time(operation.created_at),
        "error_code": operation.error_code.lower() if operation.error_code else None,
        "status": operation.status.lower(),
        "type": operation.type.lower(),
    }


def shop_payload(shop: Shop) -> dict[str, Any]:
    """The REST shop object: the body of `app/uninstalled` and `shop/update`."""
    return {
        "id": shop.id,
        "name": shop.name,
        "email": shop.email,
        "customer_email": shop.email,
        "domain": shop.domain,
        "myshopify_domain": shop.domain,
        "currency": shop.currency_code,
        "iana_timezone": "Etc/UTC",
        "timezone": "(GMT+00:00) Etc/UTC",
        "plan_name": shop.tier.value,
        "plan_display_name": shop.tier.display_name,
        "created_at": rest_time(shop.created_at),
    }


# Who a compliance request is about when the caller names nobody. Any id/email/phone is
# accepted as given (they need not be customers of the shop).
DEFAULT_COMPLIANCE_CUSTOMER: dict[str, Any] = {
    "id": 191167,
    "email": "john@example.com",
    "phone": "555-625-1199",
}


def shop_redact_payload(shop: Shop) -> dict[str, Any]:
    return {"shop_id": shop.id, "shop_domain": shop.domain}


def customers_redact_payload(shop: Shop, customer: dict[str, Any], orders: list[int]) -> dict[str, Any]:
    return {
        "shop_id": shop.id,
        "shop_domain": shop.domain,
        "customer": customer,
        "orders_to_redact": orders,
    }


def customers_data_request_payload(
    shop: Shop, customer: dict[str, Any], orders: list[int], request_id: int
) -> dict[str, Any]:
    return {
        "shop_id": shop.id,
        "shop_domain": shop.domain,
        "orders_requested": orders,
        "customer": customer,
        "data_request": {"id": request_id},
    }
