"""Webhook payloads in Shopify's REST shape (numeric ids, snake_case), as webhooks send them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.shopify.models import Image, Product, Shop, gid

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


def product_payload(product: Product, public_base: str) -> dict[str, Any]:
    """The `products/create` and `products/update` body."""
    images = [_image(product, img, i, public_base) for i, img in enumerate(product.images, 1)]
    variants = []
    for variant in product.variants:
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


# Who a compliance request is about when the caller names nobody. Customers are not
# emulated, so any id/email/phone is accepted as given.
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
