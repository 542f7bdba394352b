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
    # Billing API charges of the app in this shop, by numeric id (the `charge_id`).
    app_subscriptions: dict[int, AppSubscription] = field(default_factory=dict)

    @property
    def variant_count(self) -> int:
        return sum(len(p.variants) for p in self.products.values())
