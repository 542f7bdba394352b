"""Customers and mailing addresses with Shopify's validation rules.

Shared by the Admin API mutations (customerCreate/Update/Delete, orderCreate's customer
upsert) and the control API's shopper and merchant actions, so all validate alike.
Inputs use the Admin API's names (firstName, emailMarketingConsent, addresses, ...).
Validation first, then apply: a change with errors changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sandbox.shopify.catalog import UserError, user_error
from sandbox.shopify.countries import COUNTRIES, country_code_for, province_for
from sandbox.shopify.models import Customer, MailingAddress, Shop, utcnow
from sandbox.shopify.search import FieldKind, SearchField, SearchSpec
from sandbox.shopify.state import Store

# E.164: a plus sign, then 8 to 15 digits, the first not a zero.
_E164 = re.compile(r"\+[1-9]\d{7,14}")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")

CUSTOMER_FIELDS = (
    "firstName",
    "lastName",
    "email",
    "phone",
    "tags",
    "note",
    "emailMarketingConsent",
    "addresses",
)
# States an app may set (Shopify refuses NOT_SUBSCRIBED, REDACTED and INVALID as input:
# they are the default or set by Shopify itself).
SETTABLE_MARKETING_STATES = ("SUBSCRIBED", "UNSUBSCRIBED", "PENDING")
MARKETING_STATES = ("INVALID", "NOT_SUBSCRIBED", "PENDING", "REDACTED", "SUBSCRIBED", "UNSUBSCRIBED")
OPT_IN_LEVELS = ("CONFIRMED_OPT_IN", "SINGLE_OPT_IN", "UNKNOWN")
MAX_TAGS = 250
MAX_TAG_LENGTH = 255
CANNOT_DELETE_WITH_ORDERS = "Customer can’t be deleted because they have orders"


def normalise_phone(raw: str) -> str | None:
    """`+1 613-555-0123` → `+16135550123`; None when it is no E.164 number."""
    compact = _PHONE_PUNCTUATION.sub("", raw)
    return compact if _E164.fullmatch(compact) else None


def normalise_email(raw: str) -> str | None:
    email = raw.strip().lower()
    return email if _EMAIL.fullmatch(email) else None


def parse_tags(tags: Sequence[str] | str | None) -> list[str]:
    """Tags as a list or as one comma-separated string ("a, b"), as Shopify accepts them."""
    if tags is None:
        return []
    items = [tags] if isinstance(tags, str) else list(tags)
    return sorted({part.strip() for item in items for part in str(item).split(",") if part.strip()})


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object) -> str | None:
    return None if _blank(value) else str(value).strip()


# -- addresses ------------------------------------------------------------------------


def address_errors(prefix: list[str], raw: object) -> list[UserError]:
    if not isinstance(raw, Mapping):
        return [user_error(prefix, "Address must be an object")]
    errors = []
    for name in (
        "firstName",
        "lastName",
        "company",
        "address1",
        "address2",
        "city",
        "zip",
        "phone",
        "provinceCode",
        "province",
        "country",
        "countryCode",
    ):
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            errors.append(user_error([*prefix, name], f"{name} must be a string"))
    code = raw.get("countryCode")
    if isinstance(code, str) and code.upper() not in COUNTRIES:
        errors.append(user_error([*prefix, "countryCode"], "Country is invalid"))
    country = raw.get("country")
    if not code and isinstance(country, str) and country.strip() and country_code_for(country) is None:
        errors.append(user_error([*prefix, "country"], "Country is invalid"))
    return errors


def build_address(store: Store, raw: Mapping[str, Any]) -> MailingAddress:
    """A validated MailingAddressInput as a new address record (a new id)."""
    country_code = str(raw["countryCode"]).upper() if raw.get("countryCode") else None
    if country_code is None and not _blank(raw.get("country")):
        country_code = country_code_for(str(raw["country"]))
    province_code: str | None = None
    province: str | None = None
    if not _blank(raw.get("provinceCode")):
        given = str(raw["provinceCode"]).strip()
        code, name = province_for(country_code, given)
        province_code = code or given.upper()
        province = name if code else (_text(raw.get("province")) or given)
    elif not _blank(raw.get("province")):
        province_code, province = province_for(country_code, str(raw["province"]))
    phone = _text(raw.get("phone"))
    return MailingAddress(
        id=store.allocate_id(),
        first_name=_text(raw.get("firstName")),
        last_name=_text(raw.get("lastName")),
        company=_text(raw.get("company")),
        address1=_text(raw.get("address1")),
        address2=_text(raw.get("address2")),
        city=_text(raw.get("city")),
        province=province,
        province_code=province_code,
        zip=_text(raw.get("zip")),
        country=COUNTRIES.get(country_code or "") or _text(raw.get("country")),
        country_code=country_code,
        phone=(normalise_phone(phone) or phone) if phone else None,
    )


# -- customers ------------------------------------------------------------------------


def find_by_email(shop: Shop, email: str | None) -> Customer | None:
    if not email:
        return None
    wanted = email.strip().lower()
    return next((c for c in shop.customers.values() if c.email == wanted), None)


def find_by_phone(shop: Shop, phone: str | None) -> Customer | None:
    normalised = normalise_phone(phone) if phone else None
    if normalised is None:
        return None
    return next((c for c in shop.customers.values() if c.phone == normalised), None)


def validate_customer(
    shop: Shop,
    fields: Mapping[str, Any],
    *,
    customer: Customer | None,
    prefix: Sequence[str] = (),
) -> list[UserError]:
    """userErrors for customerCreate (customer None) or customerUpdate, as Shopify words them."""
    base = list(prefix)
    errors: list[UserError] = []
    own_id = customer.id if customer is not None else None
    email = fields.get("email")
    if not _blank(email):
        normalised = normalise_email(str(email))
        if normalised is None:
            errors.append(user_error([*base, "email"], "Email is invalid"))
        elif any(c.email == normalised and c.id != own_id for c in shop.customers.values()):
            errors.append(user_error([*base, "email"], "Email has already been taken"))
    phone = fields.get("phone")
    if not _blank(phone):
        normalised = normalise_phone(str(phone))
        if normalised is None:
            errors.append(user_error([*base, "phone"], "Phone is invalid"))
        elif any(c.phone == normalised and c.id != own_id for c in shop.customers.values()):
            errors.append(user_error([*base, "phone"], "Phone has already been taken"))
    if customer is None and all(
        _blank(fields.get(name)) for name in ("email", "phone", "firstName", "lastName")
    ):
        errors.append(user_error(base or None, "Customer must have a name, phone number or email address"))
    for name in ("firstName", "lastName", "note"):
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            errors.append(user_error([*base, name], f"{name} must be a string"))
    errors += _tag_errors(base, fields.get("tags"))
    errors += _consent_errors(base, fields, customer)
    addresses = fields.get("addresses")
    if addresses is not None:
        if not isinstance(addresses, list):
            errors.append(user_error([*base, "addresses"], "Addresses must be a list"))
        else:
            for i, raw in enumerate(addresses):
                errors += address_errors([*base, "addresses", str(i)], raw)
    return errors


def _tag_errors(base: list[str], tags: object) -> list[UserError]:
    if tags is None:
        return []
    if not isinstance(tags, str | list) or (
        isinstance(tags, list) and not all(isinstance(t, str) for t in tags)
    ):
        return [user_error([*base, "tags"], "Tags must be a list of strings")]
    parsed = parse_tags(tags)
    if len(parsed) > MAX_TAGS:
        return [user_error([*base, "tags"], f"Tags cannot be more than {MAX_TAGS}")]
    if any(len(t) > MAX_TAG_LENGTH for t in parsed):
        return [user_error([*base, "tags"], f"Tags is too long (maximum is {MAX_TAG_LENGTH} characters)")]
    return []


def _consent_errors(base: list[str], fields: Mapping[str, Any], customer: Customer | None) -> list[UserError]:
    consent = fields.get("emailMarketingConsent")
    if consent is None:
        return []
    field = [*base, "emailMarketingConsent"]
    if not isinstance(consent, Mapping):
        return [user_error(field, "Email marketing consent must be an object")]
    errors = []
    state = consent.get("marketingState")
    if state not in SETTABLE_MARKETING_STATES:
        errors.append(
            user_error(
                [*field, "marketingState"],
                f"Marketing state {state} can't be set: use one of " + ", ".join(SETTABLE_MARKETING_STATES),
            )
        )
    level = consent.get("marketingOptInLevel")
    if level is not None and level not in OPT_IN_LEVELS:
        errors.append(user_error([*field, "marketingOptInLevel"], "Marketing opt in level is invalid"))
    has_email = not _blank(fields.get("email")) or (
        "email" not in fields and customer is not None and customer.email is not None
    )
    if not has_email:
        errors.append(
            user_error(field, "An email address is required to set the email marketing consent state.")
        )
    return errors


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _fingerprint(customer: Customer) -> tuple[Any, ...]:
    return (
        customer.first_name,
        customer.last_name,
        customer.email,
        customer.phone,
        tuple(customer.tags),
        customer.note,
        customer.marketing_state,
        customer.marketing_opt_in_level,
        customer.consent_updated_at,
        tuple(a.content() for a in customer.addresses),
    )


def apply_customer(
    store: Store, customer: Customer, fields: Mapping[str, Any], now: datetime | None = None
) -> bool:
    """Apply validated changes; an absent field is left as is, an explicit null clears it
    (tags and addresses: replaced whole). True when anything changed; only then does
    `updatedAt` move, so an identical write leaves the customer (and webhooks) alone."""
    now = now or utcnow()
    before = _fingerprint(customer)
    if "firstName" in fields:
        customer.first_name = _text(fields["firstName"])
    if "lastName" in fields:
        customer.last_name = _text(fields["lastName"])
    if "email" in fields:
        customer.email = normalise_email(str(fields["email"])) if not _blank(fields["email"]) else None
    if "phone" in fields:
        customer.phone = normalise_phone(str(fields["phone"])) if not _blank(fields["phone"]) else None
    if "note" in fields:
        customer.note = fields["note"] if not _blank(fields["note"]) else None
    if "tags" in fields:
        customer.tags = parse_tags(fields["tags"])
    consent = fields.get("emailMarketingConsent")
    if consent is not None:
        state = str(consent["marketingState"])
        level = consent.get("marketingOptInLevel")
        new_level = level is not None and level != customer.marketing_opt_in_level
        if state != customer.marketing_state or new_level:
            customer.marketing_state = state
            if level is not None:
                customer.marketing_opt_in_level = str(level)
            elif state == "SUBSCRIBED" and customer.marketing_opt_in_level is None:
                customer.marketing_opt_in_level = "SINGLE_OPT_IN"
            customer.consent_updated_at = _as_datetime(consent.get("consentUpdatedAt")) or now
    if "addresses" in fields:
        wanted = [build_address(store, raw) for raw in fields["addresses"] or []]
        if [a.content() for a in wanted] != [a.content() for a in customer.addresses]:
            customer.addresses = wanted
    changed = _fingerprint(customer) != before
    if changed:
        customer.updated_at = now
    return changed


def create_customer(
    store: Store, shop: Shop, fields: Mapping[str, Any], now: datetime | None = None
) -> Customer:
    now = now or utcnow()
    customer = Customer(
        id=store.allocate_id(),
        first_name=None,
        last_name=None,
        email=None,
        phone=None,
        tags=[],
        note=None,
        marketing_state="NOT_SUBSCRIBED",
        marketing_opt_in_level=None,
        consent_updated_at=None,
        addresses=[],
        created_at=now,
        updated_at=now,
    )
    apply_customer(store, customer, fields, now)
    customer.updated_at = now
    shop.customers[customer.id] = customer
    return customer


def has_open_orders(shop: Shop, customer: Customer) -> bool:
    """Whether any order of the customer is neither fulfilled nor cancelled."""
    return any(
        o.customer_id == customer.id and o.cancelled_at is None and o.fulfillment_status != "FULFILLED"
        for o in shop.orders.values()
    )


def delete_customer(shop: Shop, customer: Customer) -> None:
    del shop.customers[customer.id]


def marketing_email_state(customer: Customer) -> str | None:
    return customer.marketing_state if customer.email else None


# -- search ---------------------------------------------------------------------------


def _customer(record: object) -> Customer:
    assert isinstance(record, Customer)
    return record


def _country(record: object) -> list[str | None]:
    address = _customer(record).default_address
    return [address.country, address.country_code] if address else []


CUSTOMER_SEARCH = SearchSpec(
    fields={
        "email": SearchField(FieldKind.KEYWORD, lambda r: [_customer(r).email]),
        "phone": SearchField(FieldKind.KEYWORD, lambda r: [_customer(r).phone]),
        "first_name": SearchField(FieldKind.TEXT, lambda r: [_customer(r).first_name]),
        "last_name": SearchField(FieldKind.TEXT, lambda r: [_customer(r).last_name]),
        "tag": SearchField(FieldKind.KEYWORD, lambda r: _customer(r).tags),
        "country": SearchField(FieldKind.KEYWORD, _country),
        "email_marketing_state": SearchField(FieldKind.KEYWORD, lambda r: [_customer(r).marketing_state]),
        "id": SearchField(FieldKind.NUMBER, lambda r: [_customer(r).id]),
        "created_at": SearchField(FieldKind.DATE, lambda r: [_customer(r).created_at]),
        "updated_at": SearchField(FieldKind.DATE, lambda r: [_customer(r).updated_at]),
    },
    free_text=lambda r: [
        _customer(r).display_name,
        _customer(r).email or "",
        _customer(r).phone or "",
        *_customer(r).tags,
    ],
)


def _location(customer: Customer) -> str:
    address = customer.default_address
    return f"{address.country or ''}:{address.city or ''}" if address else ""


CUSTOMER_SORT: dict[str, Any] = {
    "ID": lambda c: c.id,
    "RELEVANCE": lambda c: c.id,
    "CREATED_AT": lambda c: c.created_at,
    "UPDATED_AT": lambda c: c.updated_at,
    "NAME": lambda c: c.display_name,
    "LOCATION": _location,
}
