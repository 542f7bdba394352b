"""Shopify's product payloads to the CRM's product fields (seeds/003), and content hashes.

Pure functions: the same input always maps to the same output, which is what echo
suppression compares.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

DEFAULT_VARIANT_TITLE = "Default Title"


def variant_name(product_title: str, option_values: list[str]) -> str:
    """Name of a trade offer: the product's name and the variant's options."""
    options = [value for value in option_values if value and value != DEFAULT_VARIANT_TITLE]
    return f"{product_title} – {' / '.join(options)}" if options else product_title


def crm_products_from_shopify(
    product: dict[str, Any], currency: str, store_url: str, variant_ids: set[str] | None = None
) -> list[dict[str, Any]]:
    """The CRM product of each variant (only those in `variant_ids` when given)."""
    images = {image.get("id"): image.get("src") for image in product.get("images") or []}
    main_image = (product.get("image") or {}).get("src")
    option_names = [option["name"] for option in product.get("options") or []]
    mapped = []
    for variant in product.get("variants") or []:
        gid = str(variant.get("admin_graphql_api_id") or f"gid://shopify/ProductVariant/{variant['id']}")
        if variant_ids is not None and gid not in variant_ids:
            continue
        values = [variant.get(f"option{index}") for index in (1, 2, 3)]
        options = {name: value for name, value in zip(option_names, values, strict=False) if value}
        mapped.append(
            {
                "external_id": gid,
                "product_external_id": str(
                    product.get("admin_graphql_api_id") or f"gid://shopify/Product/{product['id']}"
                ),
                "sku": variant.get("sku") or "",
                "name": variant_name(
                    str(product.get("title", "")), [str(value) for value in values if value]
                ),
                "price": str(variant.get("price")),
                "currency": currency,
                "image_url": images.get(variant.get("image_id")) or main_image,
                "barcode": variant.get("barcode"),
                "options": options,
                "active": product.get("status") == "active",
                "stock": variant.get("inventory_quantity"),
                "vendor": product.get("vendor"),
                "url": f"{store_url}/products/{product.get('handle')}" if product.get("handle") else None,
            }
        )
    return mapped


def content_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


PRODUCT_FIELDS = (
    "external_id",
    "product_external_id",
    "sku",
    "name",
    "price",
    "currency",
    "image_url",
    "barcode",
    "options",
    "active",
    "stock",
    "vendor",
    "url",
)


def product_canonical(product: dict[str, Any]) -> dict[str, Any]:
    """The synced fields of a CRM product (as sent or as the CRM returns it), comparable across sides."""
    canonical = {field: product.get(field) for field in PRODUCT_FIELDS}
    canonical["price"] = str(Decimal(str(canonical["price"])).quantize(Decimal("0.01")))
    canonical["sku"] = canonical["sku"] or ""
    canonical["options"] = dict(canonical["options"] or {})
    canonical["active"] = bool(canonical["active"])
    return canonical


def crm_product_from_graphql(
    product: dict[str, Any], variant: dict[str, Any], currency: str, store_url: str
) -> dict[str, Any]:
    """The CRM product of one variant read through GraphQL (catalog import, bulk JSONL lines).

    Gives the same body as `crm_products_from_shopify` does for the webhook payload, so both
    paths agree on the content hash.
    """
    options = {str(o["name"]): str(o["value"]) for o in variant.get("selectedOptions") or []}
    image = variant.get("image") or product.get("featuredImage") or {}
    handle = product.get("handle")
    return {
        "external_id": str(variant["id"]),
        "product_external_id": str(product["id"]),
        "sku": variant.get("sku") or "",
        "name": variant_name(str(product.get("title", "")), list(options.values())),
        "price": str(variant.get("price")),
        "currency": currency,
        "image_url": image.get("url"),
        "barcode": variant.get("barcode"),
        "options": options,
        "active": str(product.get("status", "")).upper() == "ACTIVE",
        "stock": variant.get("inventoryQuantity"),
        "vendor": product.get("vendor"),
        "url": f"{store_url}/products/{handle}" if handle else None,
    }
