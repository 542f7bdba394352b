"""What the CRM sandbox keeps: OAuth tokens, IAM users, login links, the users' products,
campaigns, offers, payment processors, customers, orders, fulfillments and webhook
subscriptions, and the sign-in sessions of the CRM's screens.

`version` guards the state file; new fields need defaults so older files still load.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.common.clock import iso
from sandbox.common.directory import Directory
from sandbox.common.oauth import OAuthState

STATE_VERSION = 1


class LinkStatus(enum.StrEnum):
    ACTIVE = "active"
    USED = "used"
    EXPIRED = "expired"


@dataclass
class LoginLink:
    """A single-use sign-in link. Only the SHA-256 of its token is kept."""

    id: str
    token_hash: str
    client_id: str
    user_id: str
    redirect_path: str
    created_at: float
    expires_at: float
    used_at: float | None = None

    def status(self, now: float) -> LinkStatus:
        # A used link reads "used" even once expired: that is what the user did.
        if self.used_at is not None:
            return LinkStatus.USED
        return LinkStatus.EXPIRED if now >= self.expires_at else LinkStatus.ACTIVE

    def as_json(self, now: float) -> dict[str, Any]:
        """For the control API: status and times, never the token."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "redirect_path": self.redirect_path,
            "status": self.status(now).value,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "used_at": iso(self.used_at) if self.used_at is not None else None,
        }


class ProcessorStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class OfferKind(enum.StrEnum):
    MAIN = "main"
    UPSELL = "upsell"
    DOWNSELL = "downsell"  # offered when the shopper declines an upsell


class DiscountType(enum.StrEnum):
    NONE = "none"
    PERCENTAGE = "percentage"
    FIXED_AMOUNT = "fixed_amount"


PROCESSOR_KINDS = ("stripe", "paypal", "authorize_net", "braintree", "nmi", "adyen")
WEIGHT_UNITS = ("g", "kg", "oz", "lb")


@dataclass
class Product:
    """A sellable item: one Shopify variant (its gid is `external_id`)."""

    id: str
    seq: int
    owner_id: str  # the user whose token created it
    external_id: str
    product_external_id: str
    sku: str
    name: str
    price: str  # a decimal string, kept as sent
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
    created_at: float
    updated_at: float
    # Product groups (the store's collections), by title.
    collections: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_id": self.external_id,
            "product_external_id": self.product_external_id,
            "sku": self.sku,
            "name": self.name,
            "price": self.price,
            "currency": self.currency,
            "image_url": self.image_url,
            "weight": self.weight,
            "weight_unit": self.weight_unit,
            "barcode": self.barcode,
            "options": dict(self.options),
            "active": self.active,
            "stock": self.stock,
            "vendor": self.vendor,
            "url": self.url,
            "collections": list(self.collections),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass
class Campaign:
    id: str
    seq: int
    owner_id: str
    external_id: str
    name: str
    description: str
    currency: str
    country: str
    created_at: float
    updated_at: float
    # Linked payment processors, in the order they were given.
    processor_ids: list[str] = field(default_factory=list)
    # A deactivated campaign takes no new orders; it and its orders stay for the records.
    active: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_id": self.external_id,
            "name": self.name,
            "description": self.description,
            "currency": self.currency,
            "country": self.country,
            "status": "active" if self.active else "inactive",
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass
class Offer:
    """A product offered in a campaign: its one `main` offer, an `upsell` or a `downsell`."""

    id: str
    seq: int
    owner_id: str
    campaign_id: str
    external_id: str
    product_id: str
    kind: OfferKind
    position: int
    headline: str
    discount_type: DiscountType
    discount_value: str  # a decimal string: a percentage or an amount in the product's currency
    created_at: float
    updated_at: float

    def as_json(self, product: Product | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_id": self.external_id,
            "campaign_id": self.campaign_id,
            "product_id": self.product_id,
            "kind": self.kind.value,
            "position": self.position,
            "headline": self.headline,
            "discount_type": self.discount_type.value,
            "discount_value": self.discount_value,
            "price": offer_price(self, product) if product is not None else None,
            "currency": product.currency if product is not None else None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


def offer_price(offer: Offer, product: Product) -> str:
    """What the shopper pays: the product's price after the offer's discount, to the cent."""
    price = Decimal(product.price)
    value = Decimal(offer.discount_value)
    if offer.discount_type is DiscountType.PERCENTAGE:
        price -= price * value / 100
    elif offer.discount_type is DiscountType.FIXED_AMOUNT:
        price -= value
    return str(max(price, Decimal(0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass
class PaymentProcessor:
    """A gateway the merchant set up in the CRM (never through the API)."""

    id: str
    seq: int
    owner_id: str
    name: str
    kind: str
    status: ProcessorStatus
    created_at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "status": self.status.value,
            "created_at": iso(self.created_at),
        }


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        """Still to be shipped: a customer with such an order cannot be deleted."""
        return self in (OrderStatus.PENDING, OrderStatus.PAID)


class FulfillmentStatus(enum.StrEnum):
    """A shipment's state, as CheckoutChamp-style CRMs keep it: only `success` has shipped."""

    PENDING = "pending"  # being prepared, not handed to the carrier yet
    SUCCESS = "success"
    CANCELLED = "cancelled"
    FAILED = "failed"  # the fulfillment service or carrier could not ship it


# What a webhook subscription may listen to.
WEBHOOK_TOPICS = (
    "product.created",
    "product.updated",
    "product.deleted",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "order.created",
    "order.updated",
    "fulfillment.created",
)


@dataclass
class Address:
    """A postal address. `address` is one line: Shopify's address1 and address2 joined as
    "Address||Apartment" by the integration, kept exactly as sent."""

    first_name: str | None = None
    last_name: str | None = None
    address: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    phone: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "address": self.address,
            "city": self.city,
            "region": self.region,
            "postal_code": self.postal_code,
            "country_code": self.country_code,
            "phone": self.phone,
        }


@dataclass
class Customer:
    id: str
    seq: int
    owner_id: str
    # Null for a customer added in the CRM itself until an integration links it.
    external_id: str | None
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None  # E.164
    shipping_phone: str | None
    accepts_marketing: bool
    tags: list[str]
    address: Address | None
    created_at: float
    updated_at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_id": self.external_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "phone": self.phone,
            "shipping_phone": self.shipping_phone,
            "accepts_marketing": self.accepts_marketing,
            "tags": list(self.tags),
            "address": self.address.as_json() if self.address is not None else None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass
class OrderItem:
    """One line. `product_id` is null for a line that is not a catalog product (a custom
    item added in Shopify): such lines never enter the catalog."""

    product_id: str | None
    name: str
    sku: str
    quantity: int
    price: str  # a decimal string, kept as sent

    def total(self) -> Decimal:
        return Decimal(self.price) * self.quantity

    def as_json(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "name": self.name,
            "sku": self.sku,
            "quantity": self.quantity,
            "price": self.price,
        }


def money(amount: Decimal) -> str:
    """A total as a decimal string: at least 2 decimals, more only when the prices had them."""
    if amount == amount.quantize(Decimal("0.01")):
        return str(amount.quantize(Decimal("0.01")))
    return str(amount.normalize())


@dataclass
class Order:
    id: str
    seq: int
    owner_id: str
    external_id: str | None  # null for an order placed in the CRM until an integration links it
    customer_id: str
    campaign_id: str | None
    currency: str
    items: list[OrderItem]
    shipping_address: Address | None
    operator_comment: str | None
    status: OrderStatus
    source: str
    created_at: float
    updated_at: float

    def total(self) -> str:
        return money(sum((item.total() for item in self.items), Decimal(0)))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_id": self.external_id,
            "customer_id": self.customer_id,
            "campaign_id": self.campaign_id,
            "currency": self.currency,
            "items": [item.as_json() for item in self.items],
            "shipping_address": (
                self.shipping_address.as_json() if self.shipping_address is not None else None
            ),
            "operator_comment": self.operator_comment,
            "status": self.status.value,
            "total": self.total(),
            "source": self.source,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass
class Fulfillment:
    id: str
    seq: int
    owner_id: str
    order_id: str
    external_id: str | None
    tracking_number: str | None
    carrier: str | None
    status: FulfillmentStatus
    created_at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order_id": self.order_id,
            "external_id": self.external_id,
            "tracking_number": self.tracking_number,
            "carrier": self.carrier,
            "status": self.status.value,
            "created_at": iso(self.created_at),
        }


@dataclass
class WebhookSubscription:
    """Where a user's events go. `client_id` is the OAuth client the subscribing token was
    issued to: that client's secret signs the deliveries."""

    id: str
    seq: int
    owner_id: str
    client_id: str
    url: str
    topics: list[str]
    created_at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "topics": list(self.topics),
            "created_at": iso(self.created_at),
        }


@dataclass
class CrmSession:
    """A signed-in CRM screen session, opened by a login link. Only the cookie's hash is kept."""

    token_hash: str
    client_id: str
    user_id: str
    csrf_token: str  # echoed by the screens' forms; useless without the cookie
    created_at: float
    expires_at: float


@dataclass
class CrmState:
    version: int = STATE_VERSION
    oauth: OAuthState = field(default_factory=OAuthState)
    users: Directory = field(default_factory=Directory)
    # Keyed by the token's SHA-256.
    login_links: dict[str, LoginLink] = field(default_factory=dict)
    # The users' resources, by id; `next_seq` orders them for lists and cursors.
    products: dict[str, Product] = field(default_factory=dict)
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)
    processors: dict[str, PaymentProcessor] = field(default_factory=dict)
    next_seq: int = 1
    customers: dict[str, Customer] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    fulfillments: dict[str, Fulfillment] = field(default_factory=dict)
    webhooks: dict[str, WebhookSubscription] = field(default_factory=dict)
    # Keyed by the session cookie's SHA-256.
    sessions: dict[str, CrmSession] = field(default_factory=dict)
