"""The sandbox's records: shops, products, variants, collections, tokens, subscriptions.

Plain mutable dataclasses holding only JSON-friendly values (money as decimal strings,
times as aware datetimes) so the whole store serialises to a state file unchanged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation


class PlanTier(enum.StrEnum):
    """Shopify's rate-limit tiers: what decides a shop's bucket size and restore rate."""

    STANDARD = "standard"
    ADVANCED = "advanced"
    PLUS = "plus"
    ENTERPRISE = "enterprise"

    @property
    def restore_rate(self) -> float:
        return _RESTORE_RATES[self]

    @property
    def bucket_size(self) -> float:
        # Shopify's bucket holds 20 seconds' worth of restore.
        return self.restore_rate * 20

    @property
    def display_name(self) -> str:
        # The names Shopify reports in `shop.plan.displayName` for plans in each tier.
        return _DISPLAY_NAMES[self]

    @property
    def shopify_plus(self) -> bool:
        return self in (PlanTier.PLUS, PlanTier.ENTERPRISE)


_RESTORE_RATES: dict[PlanTier, float] = {
    PlanTier.STANDARD: 100.0,
    PlanTier.ADVANCED: 200.0,
    PlanTier.PLUS: 1000.0,
    PlanTier.ENTERPRISE: 2000.0,
}
_DISPLAY_NAMES: dict[PlanTier, str] = {
    PlanTier.STANDARD: "Grow",
    PlanTier.ADVANCED: "Advanced",
    PlanTier.PLUS: "Shopify Plus",
    PlanTier.ENTERPRISE: "Commerce Components",
}


class ProductStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    DRAFT = "DRAFT"
    ARCHIVED = "ARCHIVED"


def utcnow() -> datetime:
    # Wall-clock time for createdAt/updatedAt; tests freeze it with time-machine.
    return datetime.now(UTC).replace(microsecond=0)


def money(value: str | int | float | Decimal) -> str:
    """Normalise a price to Shopify's Money form: a decimal string with two places."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not a decimal amount: {value!r}")
    return str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def gid(kind: str, numeric_id: int) -> str:
    return f"gid://shopify/{kind}/{numeric_id}"


def parse_gid(value: str, kind: str) -> int | None:
    """The numeric id inside `gid://shopify/{kind}/N`, or None if it is not one."""
    prefix = f"gid://shopify/{kind}/"
    if not value.startswith(prefix):
        return None
    rest = value[len(prefix) :]
    return int(rest) if rest.isdigit() else None


def gid_kind(value: str) -> str | None:
    parts = value.split("/")
    if len(parts) == 5 and value.startswith("gid://shopify/") and parts[4].isdigit():
        return parts[3]
    return None


@dataclass
class Image:
    id: int
    alt_text: str
    # What the generated SVG shows: a label on a background of this hue.
    label: str
    hue: int
    width: int = 800
    height: int = 800


@dataclass
class ProductOption:
    id: int
    name: str
    values: list[str]


# Shopify's WeightUnit: grams in one unit, and the unit's name in REST payloads.
GRAMS_PER_UNIT: dict[str, float] = {
    "GRAMS": 1.0,
    "KILOGRAMS": 1000.0,
    "OUNCES": 28.349523125,
    "POUNDS": 453.59237,
}
REST_WEIGHT_UNITS: dict[str, str] = {"GRAMS": "g", "KILOGRAMS": "kg", "OUNCES": "oz", "POUNDS": "lb"}


@dataclass
class Variant:
    id: int
    inventory_item_id: int
    title: str
    sku: str
    barcode: str | None
    price: str
    compare_at_price: str | None
    inventory_quantity: int
    position: int
    # One value per product option, in the product's option order.
    option_values: list[str]
    image_id: int | None
    weight: float
    weight_unit: str
    created_at: datetime
    updated_at: datetime
    taxable: bool = True
    inventory_policy: str = "DENY"
    tracked: bool = True

    @property
    def grams(self) -> int:
        """The weight in whole grams, as REST payloads and order lines carry it."""
        return round(self.weight * GRAMS_PER_UNIT.get(self.weight_unit, 1.0))


@dataclass
class Product:
    id: int
    title: str
    handle: str
    description_html: str
    vendor: str
    product_type: str
    status: ProductStatus
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    options: list[ProductOption]
    variants: list[Variant]
    images: list[Image]

    @property
    def total_inventory(self) -> int:
        return sum(v.inventory_quantity for v in self.variants)


@dataclass
class Collection:
    id: int
    title: str
    handle: str
    description_html: str
    product_ids: list[int]
    updated_at: datetime
    image: Image | None = None


@dataclass
class AccessToken:
    token: str
    scopes: list[str]
    created_at: datetime
    # Epoch seconds (config.epoch_clock) after which the token is refused; None: never
    # (custom-app tokens and legacy non-expiring OAuth tokens).
    expires_at: float | None = None
    # The OAuth client it was issued to; None for tokens minted through the control API.
    client_id: str | None = None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclass
class RefreshToken:
    """One link of a rotation chain: works once, then is kept only to refuse reuse."""

    token: str
    client_id: str
    scopes: list[str]
    expires_at: float
    # The access token issued with it: refreshing revokes that one at once.
    access_token: str
    used: bool = False


@dataclass
class WebhookSubscription:
    id: int
    topic: str  # the REST form, e.g. "products/update"
    uri: str
    format: str
    api_version: str
    include_fields: list[str]
    filter: str | None
    created_at: datetime
    updated_at: datetime


@dataclass
class AppSubscriptionLineItem:
    """One recurring line item of an app charge (usage pricing is not emulated)."""

    id: int
    amount: str  # Money: a decimal string with two places
    currency_code: str
    interval: str  # AppPricingInterval: EVERY_30_DAYS or ANNUAL


@dataclass
class AppSubscription:
    """A Billing API charge: PENDING until the merchant approves or declines it."""

    id: int
    name: str
    status: str  # AppSubscriptionStatus
    test: bool
    trial_days: int
    return_url: str
    # The app that created it (the sandbox's one app: its api_key).
    api_key: str
    line_items: list[AppSubscriptionLineItem]
    created_at: datetime
    updated_at: datetime
    current_period_end: datetime | None = None


@dataclass
class MailingAddress:
    """A customer's or an order's address (Shopify's MailingAddress)."""

    id: int
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code: str | None = None
    phone: str | None = None

    def content(self) -> tuple[str | None, ...]:
        """Everything but the id: two addresses with the same content are the same address."""
        return (
            self.first_name,
            self.last_name,
            self.company,
            self.address1,
            self.address2,
            self.city,
            self.province,
            self.province_code,
            self.zip,
            self.country,
            self.country_code,
            self.phone,
        )


@dataclass
class Customer:
    id: int
    first_name: str | None
    last_name: str | None
    # Lower-cased, as Shopify stores it; unique in the shop.
    email: str | None
    # E.164 (`+` and 8 to 15 digits); unique in the shop.
    phone: str | None
    tags: list[str]
    note: str | None
    # CustomerEmailMarketingState: SUBSCRIBED, NOT_SUBSCRIBED, UNSUBSCRIBED, PENDING, ...
    marketing_state: str
    # CustomerMarketingOptInLevel: SINGLE_OPT_IN, CONFIRMED_OPT_IN, UNKNOWN (or None)
    marketing_opt_in_level: str | None
    consent_updated_at: datetime | None
    # The first address is the default address.
    addresses: list[MailingAddress]
    created_at: datetime
    updated_at: datetime

    @property
    def default_address(self) -> MailingAddress | None:
        return self.addresses[0] if self.addresses else None

    @property
    def display_name(self) -> str:
        name = " ".join(n for n in (self.first_name, self.last_name) if n)
        return name or self.email or self.phone or ""


@dataclass
class LineItem:
    id: int
    title: str
    quantity: int
    # Unit price in the order's currency (Money: a decimal string with two places).
    price: str
    # None for a custom item (no variant behind it).
    variant_id: int | None = None
    product_id: int | None = None
    variant_title: str | None = None
    sku: str | None = None
    vendor: str | None = None
    requires_shipping: bool = True
    taxable: bool = True
    grams: int = 0

    @property
    def name(self) -> str:
        # Shopify's line item name: "Product - Variant", or the title alone.
        if self.variant_title and self.variant_title != "Default Title":
            return f"{self.title} - {self.variant_title}"
        return self.title


@dataclass
class FulfillmentOrderLineItem:
    id: int
    line_item_id: int
    total_quantity: int
    remaining_quantity: int


@dataclass
class FulfillmentOrder:
    id: int
    # FulfillmentOrderStatus: OPEN, IN_PROGRESS, CLOSED, CANCELLED, ...
    status: str
    line_items: list[FulfillmentOrderLineItem]
    created_at: datetime
    updated_at: datetime


@dataclass
class FulfillmentLineItem:
    id: int
    line_item_id: int
    quantity: int


@dataclass
class Fulfillment:
    id: int
    # Fulfillment.name: the order's name and a sequence number, "#1001.1".
    name: str
    # FulfillmentStatus: SUCCESS or CANCELLED.
    status: str
    tracking_company: str | None
    tracking_numbers: list[str]
    tracking_urls: list[str]
    line_items: list[FulfillmentLineItem]
    created_at: datetime
    updated_at: datetime


@dataclass
class Order:
    id: int
    # The order number; the name is "#1001".
    number: int
    email: str | None
    phone: str | None
    note: str | None
    tags: list[str]
    currency: str
    # OrderDisplayFinancialStatus: PENDING, PAID, AUTHORIZED, ...
    financial_status: str
    source_name: str
    customer_id: int | None
    shipping_address: MailingAddress | None
    billing_address: MailingAddress | None
    line_items: list[LineItem]
    fulfillment_orders: list[FulfillmentOrder]
    fulfillments: list[Fulfillment]
    created_at: datetime
    updated_at: datetime
    processed_at: datetime
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    po_number: str | None = None

    @property
    def name(self) -> str:
        return f"#{self.number}"

    @property
    def total_price(self) -> str:
        return money(sum((Decimal(li.price) * li.quantity for li in self.line_items), Decimal(0)))

    @property
    def fulfillment_status(self) -> str:
        """OrderDisplayFulfillmentStatus, from what is left to fulfil."""
        total = sum(li.total_quantity for fo in self.fulfillment_orders for li in fo.line_items)
        remaining = sum(li.remaining_quantity for fo in self.fulfillment_orders for li in fo.line_items)
        if remaining == 0:
            return "FULFILLED"
        return "UNFULFILLED" if remaining == total else "PARTIALLY_FULFILLED"

    def fulfilled_quantity(self, line_item_id: int) -> int:
        return sum(
            fli.quantity
            for f in self.fulfillments
            if f.status == "SUCCESS"
            for fli in f.line_items
            if fli.line_item_id == line_item_id
        )


@dataclass
class BulkOperation:
    id: int
    # BulkOperationStatus: CREATED, RUNNING, COMPLETED, FAILED, CANCELING, CANCELED, EXPIRED.
    status: str
    query: str
    created_at: datetime
    type: str = "QUERY"
    completed_at: datetime | None = None
    # BulkOperationErrorCode: ACCESS_DENIED, INTERNAL_SERVER_ERROR, TIMEOUT.
    error_code: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    # Where the results are: set when the operation completed with at least one object
    # (url), or failed after writing some (partial_data_url).
    has_file: bool = False
    partial: bool = False


@dataclass
class Shop:
    id: int
    domain: str
    name: str
    email: str
    tier: PlanTier
    currency_code: str
    created_at: datetime
    products: dict[int, Product] = field(default_factory=dict)
    collections: dict[int, Collection] = field(default_factory=dict)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    webhook_subscriptions: dict[int, WebhookSubscription] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    # Set through the control API: what the next OAuth approvals grant at most
    # (None: exactly what the app asks for).
    granted_scopes: list[str] | None = None
    # The app's installation in this shop: the scopes granted (by OAuth consent or a
    # managed installation), None while the app is not installed. Token exchange needs it.
    installed_scopes: list[str] | None = None
    # Billing API charges of the app in this shop, by numeric id (the `charge_id`).
    app_subscriptions: dict[int, AppSubscription] = field(default_factory=dict)
    customers: dict[int, Customer] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    # The next order's number (its name is "#1001", "#1002", ...).
    next_order_number: int = 1001
    bulk_operations: dict[int, BulkOperation] = field(default_factory=dict)
    # Admin API mutations by name: applied (no userErrors) and refused (userErrors), so
    # tests can prove an effect happened exactly once.
    api_writes: dict[str, int] = field(default_factory=dict)
    api_refusals: dict[str, int] = field(default_factory=dict)

    @property
    def variant_count(self) -> int:
        return sum(len(p.variants) for p in self.products.values())
