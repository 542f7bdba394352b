"""Shopify's product payloads to the CRM's product fields (seeds/003), and content hashes.

Pure functions: the same input always maps to the same output, which is what echo
suppression compares.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from connectors.shopify_ids import gid_of

DEFAULT_VARIANT_TITLE = "Default Title"

# Shopify's weight units (GraphQL `WeightUnit`) and the CRM's, which are also the REST
# payload's `weight_unit` values.
CRM_WEIGHT_UNITS = {"GRAMS": "g", "KILOGRAMS": "kg", "OUNCES": "oz", "POUNDS": "lb"}
SHOPIFY_WEIGHT_UNITS = {crm: shopify for shopify, crm in CRM_WEIGHT_UNITS.items()}
GRAMS_PER_UNIT = {
    "g": Decimal(1),
    "kg": Decimal(1000),
    "oz": Decimal("28.349523125"),
    "lb": Decimal("453.59237"),
}
# The collections read per product. The paged queries ask for this many and a bulk query
# returns them all (in the same order), so the mapper keeps this many from any source.
MAX_COLLECTIONS = 25

# What `crm_product_from_graphql` reads: every query feeding it selects these, so the
# webhook, catalog and reconciliation paths all map the same content.
GRAPHQL_PRODUCT_FIELDS = "id title handle vendor status featuredImage { url }"
GRAPHQL_PRODUCT_COLLECTIONS = f"collections(first: {MAX_COLLECTIONS}) {{ nodes {{ title }} }}"
GRAPHQL_VARIANT_FIELDS = (
    "id title sku barcode price inventoryQuantity selectedOptions { name value } image { url } "
    "inventoryItem { measurement { weight { value unit } } }"
)


def variant_name(product_title: str, option_values: list[str]) -> str:
    """Name of a trade offer: the product's name and the variant's options."""
    options = [value for value in option_values if value and value != DEFAULT_VARIANT_TITLE]
    return f"{product_title} – {' / '.join(options)}" if options else product_title


def collection_titles(titles: Iterable[object]) -> list[str]:
    """The CRM's product groups: the first `MAX_COLLECTIONS` titles, sorted, each once."""
    kept = [str(title) for title, _ in zip(titles, range(MAX_COLLECTIONS), strict=False) if title]
    return sorted(set(kept))


def weight_in_grams(value: object, unit: object) -> str | None:
    """A weight as grams to the hundredth, whatever its unit: the same mass compares equal."""
    per_unit = GRAMS_PER_UNIT.get(str(unit))
    if value is None or per_unit is None or isinstance(value, bool):
        return None
    try:
        grams = Decimal(str(value)) * per_unit
    except InvalidOperation:
        return None
    if not grams.is_finite():
        return None
    return str(grams.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _weight(value: object, unit: str | None) -> tuple[float | None, str | None]:
    # The CRM keeps a weight with its unit (the same four units Shopify has), so the value and
    # unit the merchant chose go across as they are: converting to one unit would show 0.8 kg
    # as 800 g in the CRM and, once written back, change the unit in Shopify too.
    if value is None or isinstance(value, bool) or unit not in GRAMS_PER_UNIT:
        return None, None
    try:
        number = float(str(value))
    except ValueError:
        return None, None
    return (number, unit) if math.isfinite(number) else (None, None)


def _rest_weight(variant: dict[str, Any]) -> tuple[float | None, str | None]:
    if variant.get("weight") is not None:
        return _weight(variant.get("weight"), variant.get("weight_unit"))
    return _weight(variant.get("grams"), "g")


def _graphql_weight(variant: dict[str, Any]) -> tuple[float | None, str | None]:
    weight = ((variant.get("inventoryItem") or {}).get("measurement") or {}).get("weight") or {}
    return _weight(weight.get("value"), CRM_WEIGHT_UNITS.get(str(weight.get("unit"))))


def crm_products_from_shopify(
    product: dict[str, Any],
    currency: str,
    store_url: str,
    variant_ids: set[str] | None = None,
    *,
    collections: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """The CRM product of each variant (only those in `variant_ids` when given).

    A products/update payload does not list the product's collections (their changes come
    as collections/* events), so the caller passes the titles it knows.
    """
    images = {image.get("id"): image.get("src") for image in product.get("images") or []}
    main_image = (product.get("image") or {}).get("src")
    option_names = [option["name"] for option in product.get("options") or []]
    groups = collection_titles(collections)
    mapped = []
    for variant in product.get("variants") or []:
        gid = gid_of("ProductVariant", variant)
        if variant_ids is not None and gid not in variant_ids:
            continue
        values = [variant.get(f"option{index}") for index in (1, 2, 3)]
        options = {name: value for name, value in zip(option_names, values, strict=False) if value}
        weight, weight_unit = _rest_weight(variant)
        mapped.append(
            {
                "external_id": gid,
                "product_external_id": gid_of("Product", product),
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
                "weight": weight,
                "weight_unit": weight_unit,
                "collections": list(groups),
            }
        )
    return mapped


def variant_ids_of(product: dict[str, Any]) -> set[str]:
    """Every variant gid of a products/* payload. Its `variants` hold the first 100 variants in
    full; `variant_gids` ({"admin_graphql_api_id", "updated_at"} each) names all of them."""
    ids = {gid_of("ProductVariant", variant) for variant in product.get("variants") or []}
    for entry in product.get("variant_gids") or []:
        variant_gid = entry.get("admin_graphql_api_id") if isinstance(entry, dict) else entry
        if isinstance(variant_gid, str) and variant_gid:
            ids.add(variant_gid)
    return ids


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
    "weight",
    "collections",
)
# A CRM product body: the compared fields and the weight's unit, which content leaves out
# (it compares the weight in grams).
PRODUCT_BODY_FIELDS = (*PRODUCT_FIELDS, "weight_unit")


def product_canonical(product: dict[str, Any]) -> dict[str, Any]:
    """The synced fields of a CRM product (as sent or as the CRM returns it), comparable across sides."""
    canonical = {field: product.get(field) for field in PRODUCT_FIELDS}
    canonical["price"] = str(Decimal(str(canonical["price"])).quantize(Decimal("0.01")))
    canonical["sku"] = canonical["sku"] or ""
    canonical["options"] = dict(canonical["options"] or {})
    canonical["active"] = bool(canonical["active"])
    canonical["weight"] = weight_in_grams(product.get("weight"), product.get("weight_unit"))
    canonical["collections"] = sorted({str(title) for title in canonical["collections"] or []})
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
    weight, weight_unit = _graphql_weight(variant)
    collections = (product.get("collections") or {}).get("nodes") or []
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
        "weight": weight,
        "weight_unit": weight_unit,
        "collections": collection_titles(node.get("title") for node in collections if node),
    }


def shopify_variant_input(crm_product: dict[str, Any]) -> dict[str, Any]:
    """The `ProductVariantsBulkInput` writing a CRM product's price, SKU, barcode and weight back.

    Collections are not written back: Shopify is the catalog's source and a CRM product group
    names no Shopify collection; the next Shopify → CRM sync puts Shopify's back in the CRM.
    A CRM product without a weight (or a SKU) leaves Shopify's as it is.
    """
    canonical = product_canonical(crm_product)
    variant: dict[str, Any] = {
        "id": canonical["external_id"],
        "price": canonical["price"],
        "barcode": canonical["barcode"],
    }
    item: dict[str, Any] = {}
    if canonical["sku"]:
        item["sku"] = canonical["sku"]
    if canonical["weight"] is not None:
        unit = SHOPIFY_WEIGHT_UNITS[str(crm_product["weight_unit"])]
        item["measurement"] = {"weight": {"value": float(crm_product["weight"]), "unit": unit}}
    if item:
        variant["inventoryItem"] = item
    return variant
