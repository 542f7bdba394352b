"""What the CRM accepts for products, campaigns and offers: each reader returns the checked
input or raises the API's 422 listing every bad field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sandbox.common.records import Fields
from sandbox.crm.state import (
    PROCESSOR_KINDS,
    WEIGHT_UNITS,
    DiscountType,
    OfferKind,
    Product,
)

MAX_EXTERNAL_ID = 255
MAX_CAMPAIGN_NAME = 120
MAX_CAMPAIGN_DESCRIPTION = 2000
MAX_HEADLINE = 200
MAX_PROCESSOR_NAME = 120
MAX_COLLECTIONS = 250
MAX_COLLECTION_TITLE = 255


@dataclass(frozen=True)
class ProductInput:
    external_id: str
    product_external_id: str
    sku: str
    name: str
    price: str
    currency: str
    image_url: str | None
    weight: float | None
    weight_unit: str | None
    barcode: str | None
    options: dict[str, str]
    active: bool
    stock: int | None
    vendor: str | None
    url: str | None
    collections: list[str]


def _collections(f: Fields, body: dict[str, Any]) -> list[str]:
    """Product groups: a list of titles (null or absent reads as none)."""
    value = body.get("collections")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(title, str) for title in value):
        f.fail("collections", "Must be a list of strings.")
        return []
    if len(value) > MAX_COLLECTIONS:
        f.fail("collections", f"At most {MAX_COLLECTIONS} product groups.")
        return []
    if any(not title.strip() or len(title) > MAX_COLLECTION_TITLE for title in value):
        f.fail("collections", f"Titles must not be blank; at most {MAX_COLLECTION_TITLE} characters.")
        return []
    return list(value)


def read_product(body: dict[str, Any]) -> ProductInput:
    f = Fields(body)
    external_id = f.text("external_id", max_length=MAX_EXTERNAL_ID)
    product_external_id = f.text("product_external_id", max_length=MAX_EXTERNAL_ID)
    sku = f.text("sku", max_length=255, min_length=0, default="")
    name = f.text("name", max_length=255)
    price = f.decimal("price")
    if price is not None and price <= 0:
        f.fail("price", "Must be greater than 0.")
    currency = f.currency("currency")
    image_url = f.url("image_url")
    weight = f.number("weight")
    weight_unit: str | None = None
    if body.get("weight_unit") is not None:
        weight_unit = f.choice("weight_unit", WEIGHT_UNITS)
    elif weight is not None:
        f.fail("weight_unit", f"Required with a weight: one of {', '.join(WEIGHT_UNITS)}.")
    barcode = f.optional_text("barcode", max_length=255)
    options = f.string_map("options")
    active = f.boolean("active", default=True)
    stock = f.integer("stock", nullable=True)
    vendor = f.optional_text("vendor", max_length=255)
    url = f.url("url")
    collections = _collections(f, body)
    f.raise_if_any()
    return ProductInput(
        external_id=external_id,
        product_external_id=product_external_id,
        sku=sku,
        name=name,
        price=str(body["price"]),
        currency=currency,
        image_url=image_url,
        weight=weight,
        weight_unit=weight_unit,
        barcode=barcode,
        options=options,
        active=active,
        stock=stock,
        vendor=vendor,
        url=url,
        collections=collections,
    )


@dataclass(frozen=True)
class CampaignInput:
    external_id: str
    name: str
    description: str
    currency: str
    country: str


def read_campaign(body: dict[str, Any]) -> CampaignInput:
    f = Fields(body)
    external_id = f.text("external_id", max_length=MAX_EXTERNAL_ID)
    name = f.text("name", max_length=MAX_CAMPAIGN_NAME)
    description = f.text("description", max_length=MAX_CAMPAIGN_DESCRIPTION, min_length=0, default="")
    currency = f.currency("currency")
    country = f.country("country")
    f.raise_if_any()
    return CampaignInput(external_id, name, description, currency, country)


@dataclass(frozen=True)
class OfferInput:
    external_id: str
    product_id: str
    kind: OfferKind
    position: int
    headline: str
    discount_type: DiscountType
    discount_value: str


def read_offer(body: dict[str, Any], product_of: Callable[[str], Product | None]) -> OfferInput:
    """`product_of` finds one of the caller's own products by id."""
    f = Fields(body)
    external_id = f.text("external_id", max_length=MAX_EXTERNAL_ID)
    product_id = f.text("product_id", max_length=64)
    product = product_of(product_id) if product_id and not f.failed("product_id") else None
    if product_id and product is None and not f.failed("product_id"):
        f.fail("product_id", "No product with this id.")
    kind = f.choice("kind", [k.value for k in OfferKind])
    position = f.integer("position", minimum=0, nullable=True)
    headline = f.text("headline", max_length=MAX_HEADLINE, min_length=0, default="")
    discount_type = f.choice("discount_type", [d.value for d in DiscountType], default=DiscountType.NONE)
    value = f.decimal("discount_value", default="0")
    if value is not None and discount_type and not f.failed("discount_type"):
        _check_discount(f, DiscountType(discount_type), value, product)
    f.raise_if_any()
    return OfferInput(
        external_id=external_id,
        product_id=product_id,
        kind=OfferKind(kind),
        position=position or 0,
        headline=headline,
        discount_type=DiscountType(discount_type),
        discount_value=str(body.get("discount_value", "0")),
    )


def _check_discount(f: Fields, kind: DiscountType, value: Decimal, product: Product | None) -> None:
    if kind is DiscountType.NONE and value != 0:
        f.fail("discount_value", 'Must be "0" when discount_type is none.')
    elif kind is DiscountType.PERCENTAGE and value > 100:
        f.fail("discount_value", "A percentage must be from 0 to 100.")
    elif kind is DiscountType.FIXED_AMOUNT and product is not None and value >= Decimal(product.price):
        f.fail(
            "discount_value",
            f"A fixed discount must be below the product's price ({product.price} {product.currency}).",
        )


@dataclass(frozen=True)
class ProcessorInput:
    name: str
    kind: str


def read_processor(body: dict[str, Any]) -> ProcessorInput:
    f = Fields(body)
    name = f.text("name", max_length=MAX_PROCESSOR_NAME)
    kind = f.choice("kind", PROCESSOR_KINDS)
    f.raise_if_any()
    return ProcessorInput(name, kind)
