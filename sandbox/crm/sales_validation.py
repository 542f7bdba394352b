"""What the CRM accepts for customers, orders, fulfillments and webhook subscriptions.

Each reader returns the checked input or raises the API's 422 listing every bad field.
These are the checks that need no other record; the ones that do (duplicate email or
phone, another store's external id) run after them, in `sandbox.crm.sales`.

The rules come from the CRM's integration article ("Why data cannot be uploaded"):
an email must be an address; a phone must be E.164 and, when the address names a
country, carry that country's calling code; a delivery address is only taken with
first name, last name, address, city and postal code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.common.directory import EMAIL
from sandbox.common.records import HTTP_URL, MAX_URL, Fields
from sandbox.crm.state import (
    WEBHOOK_TOPICS,
    Address,
    Customer,
    FulfillmentStatus,
    OrderItem,
    OrderStatus,
    Product,
)

MAX_EXTERNAL_ID = 255
MAX_NAME = 255
MAX_EMAIL = 254
MAX_TAGS = 250
MAX_ITEMS = 250
MAX_COMMENT = 10_000
MAX_SOURCE = 64
MAX_PHONE_TEXT = 64
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Calling codes of the countries the CRM checks phones against; other countries: E.164 only.
CALLING_CODES = {
    "US": "1",
    "CA": "1",
    "GB": "44",
    "DE": "49",
    "FR": "33",
    "ES": "34",
    "IT": "39",
    "NL": "31",
    "AU": "61",
    "BR": "55",
    "MX": "52",
    "IN": "91",
}
ADDRESS_FIELDS = ("first_name", "last_name", "address", "city", "region", "postal_code")
# Without these the CRM does not take a delivery address.
DELIVERY_REQUIRED = ("first_name", "last_name", "address", "city", "postal_code")
DELIVERY_REQUIRED_MESSAGE = "Required for the delivery address."
E164_MESSAGE = "Must be an E.164 phone number such as +14155550123."


def phone_problem(phone: str, country_code: str | None) -> str | None:
    """Why `phone` is refused for an address in `country_code`, or None."""
    if not E164.match(phone):
        return E164_MESSAGE
    code = CALLING_CODES.get(country_code or "")
    if code is not None and not phone[1:].startswith(code):
        return f"The phone number does not match the format of {country_code}."
    return None


def read_address(f: Fields, field: str, *, required: tuple[str, ...] = ()) -> Address | None:
    """An address object or null at `field`; `required` names fields it must have."""
    value = f.body.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        f.fail(field, "Must be an object or null.")
        return None
    a = Fields(value, f.name(field), f.errors)
    texts = {name: a.optional_text(name, max_length=MAX_NAME) for name in ADDRESS_FIELDS}
    country_code: str | None = None
    if value.get("country_code") is not None and (value.get("country_code") != ""):
        country_code = a.country("country_code") or None
    phone = a.optional_text("phone", max_length=MAX_PHONE_TEXT)
    for name in required:
        if texts.get(name) is None and not a.failed(name):
            a.fail(name, DELIVERY_REQUIRED_MESSAGE)
    return Address(**texts, country_code=country_code, phone=phone)


@dataclass(frozen=True)
class CustomerInput:
    external_id: str | None
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    shipping_phone: str | None
    accepts_marketing: bool
    tags: list[str]
    address: Address | None


def read_customer(
    body: dict[str, Any], *, external_id_required: bool = True, prefix: str = ""
) -> CustomerInput:
    f = Fields(body, prefix)
    if external_id_required:
        external_id: str | None = f.text("external_id", max_length=MAX_EXTERNAL_ID)
    else:
        external_id = f.optional_text("external_id", max_length=MAX_EXTERNAL_ID)
    first_name = f.optional_text("first_name", max_length=MAX_NAME)
    last_name = f.optional_text("last_name", max_length=MAX_NAME)
    email = f.optional_text("email", max_length=MAX_EMAIL)
    if email is not None and not f.failed("email") and not EMAIL.match(email):
        f.fail("email", "Must be an email address.")
    address = read_address(f, "address")
    phone = f.optional_text("phone", max_length=MAX_PHONE_TEXT)
    if phone is not None and not f.failed("phone"):
        problem = phone_problem(phone, address.country_code if address is not None else None)
        if problem is not None:
            f.fail("phone", problem)
    shipping_phone = f.optional_text("shipping_phone", max_length=MAX_PHONE_TEXT)
    accepts_marketing = f.boolean("accepts_marketing", default=False)
    tags = _tags(f)
    f.raise_if_any()
    return CustomerInput(
        external_id=external_id,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=phone,
        shipping_phone=shipping_phone,
        accepts_marketing=accepts_marketing,
        tags=tags,
        address=address,
    )


def customer_body(customer: Customer) -> dict[str, Any]:
    """A customer as a create/PUT body: what a partial edit starts from."""
    body = customer.as_json()
    for server_set in ("id", "created_at", "updated_at"):
        body.pop(server_set)
    return body


def _tags(f: Fields) -> list[str]:
    value = f.body.get("tags")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        f.fail("tags", "Must be a list of strings.")
        return []
    tags = [t.strip() for t in value]
    if len(tags) > MAX_TAGS:
        f.fail("tags", f"At most {MAX_TAGS} tags.")
    elif any(not t or len(t) > MAX_NAME for t in tags):
        f.fail("tags", f"Tags must not be blank and at most {MAX_NAME} characters.")
    return tags


@dataclass(frozen=True)
class OrderInput:
    external_id: str | None
    customer_id: str
    campaign_id: str | None
    currency: str
    items: list[OrderItem]
    shipping_address: Address | None
    operator_comment: str | None
    status: OrderStatus
    source: str


@dataclass(frozen=True)
class OrderLookups:
    """The caller's own records by id: another user's ids are as good as unknown."""

    product: Callable[[str], Product | None]
    has_customer: Callable[[str], bool]
    has_campaign: Callable[[str], bool]


def read_order(
    body: dict[str, Any],
    lookups: OrderLookups,
    *,
    external_id_required: bool = True,
    default_source: str = "crm",
) -> OrderInput:
    f = Fields(body)
    if external_id_required:
        external_id: str | None = f.text("external_id", max_length=MAX_EXTERNAL_ID)
    else:
        external_id = f.optional_text("external_id", max_length=MAX_EXTERNAL_ID)
    customer_id = f.text("customer_id", max_length=64)
    if customer_id and not f.failed("customer_id") and not lookups.has_customer(customer_id):
        f.fail("customer_id", "No customer with this id.")
    campaign_id = f.optional_text("campaign_id", max_length=64)
    if campaign_id is not None and not f.failed("campaign_id") and not lookups.has_campaign(campaign_id):
        f.fail("campaign_id", "No campaign with this id.")
    currency = f.currency("currency")
    items = _items(f, lookups.product)
    shipping_address = read_address(f, "shipping_address", required=DELIVERY_REQUIRED)
    operator_comment = f.optional_text("operator_comment", max_length=MAX_COMMENT)
    status = f.choice("status", [s.value for s in OrderStatus], default=OrderStatus.PENDING.value)
    source = f.text("source", max_length=MAX_SOURCE, default=default_source)
    f.raise_if_any()
    return OrderInput(
        external_id=external_id,
        customer_id=customer_id,
        campaign_id=campaign_id,
        currency=currency,
        items=items,
        shipping_address=shipping_address,
        operator_comment=operator_comment,
        status=OrderStatus(status),
        source=source,
    )


def _items(f: Fields, product_of: Callable[[str], Product | None]) -> list[OrderItem]:
    value = f.body.get("items")
    if not isinstance(value, list) or not value:
        f.fail(
            "items",
            "Must be a list of at least one line." if value is not None else "This field is required.",
        )
        return []
    if len(value) > MAX_ITEMS:
        f.fail("items", f"At most {MAX_ITEMS} lines.")
        return []
    items: list[OrderItem] = []
    for index, raw in enumerate(value):
        name = f.name(f"items[{index}]")
        if not isinstance(raw, dict):
            f.fail(f"items[{index}]", "Must be an object.")
            continue
        line = Fields(raw, name, f.errors)
        product: Product | None = None
        product_id = line.optional_text("product_id", max_length=64)
        if product_id is not None and not line.failed("product_id"):
            product = product_of(product_id)
            if product is None:
                line.fail("product_id", "No product with this id; use null for a line outside the catalog.")
        # A catalog line may leave its name, SKU and price to the product (an unknown
        # product is the one problem reported then, not the name and price it would give).
        unknown = product_id is not None and product is None
        title = line.text(
            "name", max_length=MAX_NAME, default=product.name if product else ("" if unknown else None)
        )
        sku = line.text("sku", max_length=MAX_NAME, min_length=0, default=product.sku if product else "")
        quantity = line.integer("quantity", minimum=1)
        price = None
        if not (unknown and raw.get("price") is None):
            price = line.decimal("price", default=product.price if product else None)
        if price is not None and price <= 0:
            line.fail("price", "Must be greater than 0.")
        items.append(
            OrderItem(
                product_id=product_id,
                name=title,
                sku=sku,
                quantity=quantity or 0,
                price=str(raw.get("price") or (product.price if product else "0")),
            )
        )
    return items


@dataclass(frozen=True)
class FulfillmentInput:
    external_id: str | None
    tracking_number: str | None
    carrier: str | None
    status: FulfillmentStatus


def read_fulfillment(body: dict[str, Any]) -> FulfillmentInput:
    f = Fields(body)
    external_id = f.optional_text("external_id", max_length=MAX_EXTERNAL_ID)
    tracking_number = f.optional_text("tracking_number", max_length=MAX_NAME)
    carrier = f.optional_text("carrier", max_length=MAX_NAME)
    status = f.choice("status", [s.value for s in FulfillmentStatus], default=FulfillmentStatus.SUCCESS.value)
    f.raise_if_any()
    return FulfillmentInput(external_id, tracking_number, carrier, FulfillmentStatus(status))


@dataclass(frozen=True)
class WebhookInput:
    url: str
    topics: list[str]


def read_webhook(body: dict[str, Any]) -> WebhookInput:
    f = Fields(body)
    url = f.text("url", max_length=MAX_URL)
    if url and not f.failed("url") and not HTTP_URL.match(url):
        f.fail("url", "Must be an http or https URL.")
    topics = body.get("topics")
    if not isinstance(topics, list) or not topics or not all(isinstance(t, str) for t in topics):
        f.fail(
            "topics",
            "Must be a list of at least one topic." if topics is not None else "This field is required.",
        )
        topics = []
    elif len(set(topics)) != len(topics):
        f.fail("topics", "Must not repeat a topic.")
    else:
        for index, topic in enumerate(topics):
            if topic not in WEBHOOK_TOPICS:
                f.fail(f"topics[{index}]", f"Unknown topic; one of: {', '.join(WEBHOOK_TOPICS)}.")
    f.raise_if_any()
    return WebhookInput(url, list(topics))
