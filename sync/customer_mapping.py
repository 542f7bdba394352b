"""Customers between Shopify and the CRM (seeds/003), through one side-neutral form.

The canonical form holds exactly the synced fields: name, email, phones (profile and
delivery), marketing consent, tags, and the delivery address only (never billing).
Both sides map into it and out of it, so a round trip keeps every synced field and
the hash of the canonical form tells a real change from an echo.

Since API 2025-01 Shopify's webhooks that carry a customer (customers/*, the `customer` of
orders/*) hold no `tags`, `email_marketing_consent` or `sms_marketing_consent`: mapped from
such a payload, those fields are None, "not known", and are never written as empty
(`with_known` fills them from what the other side holds).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# Shopify's "Address" and "Apartment, suite, etc." travel as one CRM field, joined by this.
ADDRESS_SEPARATOR = "||"

Canonical = dict[str, Any]

# What `customer_from_graphql` reads: every query feeding it selects these.
GRAPHQL_ADDRESS_FIELDS = "firstName lastName address1 address2 city provinceCode zip countryCodeV2 phone"
GRAPHQL_CUSTOMER_FIELDS = (
    "id firstName lastName email phone tags emailMarketingConsent { marketingState } updatedAt "
    f"defaultAddress {{ {GRAPHQL_ADDRESS_FIELDS} }}"
)


def join_address(address1: str | None, address2: str | None) -> str | None:
    """ "Main St 1" + "Apt 4" -> "Main St 1||Apt 4"; no separator when there is no apartment."""
    first, second = (address1 or "").strip(), (address2 or "").strip()
    if not second:
        return first or None
    return f"{first}{ADDRESS_SEPARATOR}{second}"


def split_address(address: str | None) -> tuple[str | None, str | None]:
    """The CRM's joined address back into Shopify's two fields (left: address, right: apartment)."""
    if not address:
        return None, None
    first, separator, second = address.partition(ADDRESS_SEPARATOR)
    if not separator:
        return first.strip() or None, None
    return first.strip() or None, second.strip() or None


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _tags(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return sorted({str(tag).strip() for tag in items if str(tag).strip()})


def address_from_shopify(address: dict[str, Any] | None) -> Canonical | None:
    if not address:
        return None
    return {
        "first_name": _text(address.get("first_name")),
        "last_name": _text(address.get("last_name")),
        "address": join_address(address.get("address1"), address.get("address2")),
        "city": _text(address.get("city")),
        "region": _text(address.get("province_code") or address.get("province")),
        "postal_code": _text(address.get("zip")),
        "country_code": _text(address.get("country_code")),
    }


def address_from_crm(address: dict[str, Any] | None) -> Canonical | None:
    if not address:
        return None
    return {
        "first_name": _text(address.get("first_name")),
        "last_name": _text(address.get("last_name")),
        "address": _text(address.get("address")),
        "city": _text(address.get("city")),
        "region": _text(address.get("region")),
        "postal_code": _text(address.get("postal_code")),
        "country_code": _text(address.get("country_code")),
    }


def customer_from_shopify(
    customer: dict[str, Any], shipping_address: dict[str, Any] | None = None
) -> Canonical:
    """From a Shopify customer payload (webhook or order's customer); an order's own delivery
    address takes the place of the customer's default one."""
    delivery = shipping_address or customer.get("default_address")
    # Absent (not null: a customer who never answered has null consent) means not carried.
    consent = customer.get("email_marketing_consent") or {}
    return {
        "first_name": _text(customer.get("first_name")),
        "last_name": _text(customer.get("last_name")),
        "email": _text(customer.get("email")),
        "phone": _text(customer.get("phone")),
        "shipping_phone": _text((delivery or {}).get("phone")),
        "accepts_marketing": (
            consent.get("state") == "subscribed" if "email_marketing_consent" in customer else None
        ),
        "tags": _tags(customer.get("tags")) if "tags" in customer else None,
        "address": address_from_shopify(delivery),
    }


# The synced fields Shopify's customer webhooks no longer carry, and what a customer nobody
# has told us about holds.
NOT_IN_WEBHOOKS: dict[str, Any] = {"accepts_marketing": False, "tags": []}


def unknown_fields(canonical: Canonical) -> list[str]:
    return [field for field in NOT_IN_WEBHOOKS if canonical.get(field) is None]


def with_known(canonical: Canonical, known: Canonical | None) -> Canonical:
    """`canonical` with the fields it does not know taken from `known` (the customer as the
    side being written holds it), or, for a customer new there, their defaults: a payload that
    does not carry consent or tags never empties them."""
    filled = dict(canonical)
    for field in unknown_fields(canonical):
        value = (known or {}).get(field)
        filled[field] = NOT_IN_WEBHOOKS[field] if value is None else value
    return filled


def shopify_time(value: object) -> datetime | None:
    """A Shopify timestamp (REST's "2026-12-07T16:30:00-05:00", GraphQL's "...Z") as an instant."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def customer_from_crm(customer: dict[str, Any]) -> Canonical:
    return {
        "first_name": _text(customer.get("first_name")),
        "last_name": _text(customer.get("last_name")),
        "email": _text(customer.get("email")),
        "phone": _text(customer.get("phone")),
        "shipping_phone": _text(customer.get("shipping_phone")),
        "accepts_marketing": bool(customer.get("accepts_marketing")),
        "tags": _tags(customer.get("tags")),
        "address": address_from_crm(customer.get("address")),
    }


def crm_address(address: Canonical | None, phone: str | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {**address, "phone": phone}


def crm_customer_body(canonical: Canonical, external_id: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "first_name": canonical["first_name"],
        "last_name": canonical["last_name"],
        "email": canonical["email"],
        "phone": canonical["phone"],
        "shipping_phone": canonical["shipping_phone"],
        "accepts_marketing": canonical["accepts_marketing"],
        "tags": canonical["tags"],
        "address": crm_address(canonical["address"], canonical["shipping_phone"]),
    }


def shopify_address_input(address: Canonical | None, phone: str | None) -> dict[str, Any] | None:
    if address is None:
        return None
    address1, address2 = split_address(address["address"])
    return {
        "firstName": address["first_name"],
        "lastName": address["last_name"],
        "address1": address1,
        "address2": address2,
        "city": address["city"],
        "provinceCode": address["region"],
        "zip": address["postal_code"],
        "countryCode": address["country_code"],
        "phone": phone,
    }


def shopify_customer_input(canonical: Canonical, customer_gid: str | None = None) -> dict[str, Any]:
    """`CustomerInput` for customerCreate / customerUpdate.

    Shopify takes no NOT_SUBSCRIBED in an input and no consent without an email: a new
    customer without consent simply gets none, and an existing one who no longer
    consents becomes UNSUBSCRIBED.
    """
    address = shopify_address_input(canonical["address"], canonical["shipping_phone"])
    body: dict[str, Any] = {
        "firstName": canonical["first_name"],
        "lastName": canonical["last_name"],
        "email": canonical["email"],
        "phone": canonical["phone"],
        "tags": canonical["tags"],
        "addresses": [address] if address else [],
    }
    if canonical["email"] and canonical["accepts_marketing"]:
        body["emailMarketingConsent"] = {"marketingState": "SUBSCRIBED"}
    elif canonical["email"] and customer_gid:
        body["emailMarketingConsent"] = {"marketingState": "UNSUBSCRIBED"}
    if customer_gid:
        body["id"] = customer_gid
    return body


def address_from_graphql(address: dict[str, Any] | None) -> dict[str, Any] | None:
    """A GraphQL MailingAddress in the webhook payload's shape, for the address mappers."""
    if not address:
        return None
    return {
        "first_name": address.get("firstName"),
        "last_name": address.get("lastName"),
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "city": address.get("city"),
        "province_code": address.get("provinceCode"),
        "zip": address.get("zip"),
        "country_code": address.get("countryCodeV2"),
        "phone": address.get("phone"),
    }


def customer_from_graphql(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL customer in the webhook payload's shape, for the one customer mapper."""
    consent = (node.get("emailMarketingConsent") or {}).get("marketingState")
    return {
        "id": node["id"],
        "first_name": node.get("firstName"),
        "last_name": node.get("lastName"),
        "email": node.get("email"),
        "phone": node.get("phone"),
        "tags": node.get("tags") or [],
        "email_marketing_consent": {"state": str(consent or "").lower()},
        "default_address": address_from_graphql(node.get("defaultAddress")),
    }
