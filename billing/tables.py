"""Tables of the billing domain: plans and their prices, subscriptions, the billing
provider's objects we made, and the synced orders counted against each month's limit."""

from enum import StrEnum

from piccolo.columns import Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Plan(Table):
    """What a shop can subscribe to, with the limits it grants."""

    id: Serial  # added by Piccolo; declared for the type checker
    code = Varchar(length=40, unique=True, null=False)
    name = Varchar(length=80, null=False)
    description = Text(null=False, default="")
    trial_days = Integer(null=False, default=0)
    live_funnels_limit = Integer(null=False, default=1)
    synced_orders_limit = Integer(null=False, default=100)
    upsells_limit = Integer(null=False, default=1)
    archived = Boolean(null=False, default=False)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    updated_at = Timestamptz(null=False, default=TimestamptzNow())


class BillingInterval(StrEnum):
    MONTH = "month"
    YEAR = "year"


class PlanPrice(Table):
    """A price of a plan. Never edited once made: a price change adds a new row, and
    subscribers keep the price they signed up with."""

    id: Serial  # added by Piccolo; declared for the type checker
    plan = ForeignKey(references=Plan, null=False, on_delete=OnDelete.cascade)
    amount_cents = Integer(null=False)
    currency = Varchar(length=3, null=False)
    interval = Varchar(length=8, null=False, choices=BillingInterval)
    # The price new subscribers get; older ones stay for those who have them.
    current = Boolean(null=False, default=True)
    created_at = Timestamptz(null=False, default=TimestamptzNow())


class ProviderName(StrEnum):
    """A billing provider, as rows name it (billing.provider.BillingProvider.name)."""

    SHOPIFY = "shopify"
    STRIPE = "stripe"


class SubscriptionStatus(StrEnum):
    """A subscription's status as its provider reports it, lower-cased, in one spelling across
    providers (Stripe's "canceled" is stored as "cancelled", its "incomplete_expired" as
    "expired": billing.stripe_billing.STATUSES)."""

    PENDING = "pending"  # made, not yet approved or paid
    ACTIVE = "active"
    TRIALING = "trialing"  # Stripe
    PAST_DUE = "past_due"  # Stripe: a payment failed, retries under way
    UNPAID = "unpaid"  # Stripe: retries used up
    FROZEN = "frozen"  # Shopify: the store's own bill is unpaid
    DECLINED = "declined"  # Shopify: the merchant declined the charge
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    INCOMPLETE = "incomplete"  # Stripe: the first payment is not through yet
    PAUSED = "paused"  # Stripe


class Subscription(Table):
    """A shop's subscription to a plan at a price, as the billing provider reports it."""

    id: Serial  # added by Piccolo; declared for the type checker
    shop_domain = Varchar(length=255, null=False, index=True)
    plan = ForeignKey(references=Plan, null=False, on_delete=OnDelete.restrict)
    plan_price = ForeignKey(references=PlanPrice, null=False, on_delete=OnDelete.restrict)
    provider = Varchar(length=16, null=False, choices=ProviderName)
    external_id = Varchar(length=120, unique=True, null=False)
    status = Varchar(length=16, null=False, default=SubscriptionStatus.PENDING, choices=SubscriptionStatus)
    trial_days = Integer(null=False, default=0)
    current_period_end = Timestamptz(null=True, default=None)
    # The provider's time of the last change applied: an older event never overwrites a newer one.
    provider_updated_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    updated_at = Timestamptz(null=False, default=TimestamptzNow())
    trial_end = Timestamptz(null=True, default=None)
    cancel_at_period_end = Boolean(null=False, default=False)
    # A failed payment: when it first failed (the provider's time), and until when the plan's
    # limits still apply; afterwards the shop has the free plan's limits until a payment goes
    # through. Cleared by a successful payment.
    payment_failed_at = Timestamptz(null=True, default=None)
    grace_ends_at = Timestamptz(null=True, default=None)
    # The provider's time of the last payment outcome applied (paid or failed), so a late,
    # older outcome never undoes a newer one.
    payment_event_at = Timestamptz(null=True, default=None)


class ProviderObjectKind(StrEnum):
    PRODUCT = "product"  # one per plan
    PRICE = "price"  # one per plan price
    CUSTOMER = "customer"  # one per shop


class ProviderObject(Table):
    """An object we made at a billing provider for one of ours: a Stripe Product per plan,
    a Price per plan price, a Customer per shop. Made once, found again by `key`."""

    id: Serial  # added by Piccolo; declared for the type checker
    # "{provider}:{kind}:{our id}", e.g. "stripe:customer:demo.myshopify.com".
    key = Varchar(length=300, unique=True, null=False)
    provider = Varchar(length=16, null=False, choices=ProviderName)
    kind = Varchar(length=16, null=False, choices=ProviderObjectKind)
    local_id = Varchar(length=255, null=False)
    external_id = Varchar(length=255, unique=True, null=False)
    created_at = Timestamptz(null=False, default=TimestamptzNow())


class SyncedOrderMonth(Table):
    """How many orders a shop synced in one calendar month (UTC); the row is also the lock
    that serialises claims of that shop and month. Unique on (shop_domain, period): an index
    made by a migration (Piccolo's composite constraints do not work on SQLite)."""

    id: Serial  # added by Piccolo; declared for the type checker
    shop_domain = Varchar(length=255, null=False)
    period = Varchar(length=7, null=False)  # "2026-11"
    orders = Integer(null=False, default=0)
    updated_at = Timestamptz(null=False, default=TimestamptzNow())


class SyncedOrderClaim(Table):
    """One order counted in one month. Unique on (shop_domain, period, order_key), an index
    made by a migration, so an order synced again in the same month is not counted twice."""

    id: Serial  # added by Piccolo; declared for the type checker
    shop_domain = Varchar(length=255, null=False)
    period = Varchar(length=7, null=False)
    order_key = Varchar(length=255, null=False)
    claimed_at = Timestamptz(null=False, default=TimestamptzNow())


TABLES: list[type[Table]] = [
    Plan,
    PlanPrice,
    Subscription,
    ProviderObject,
    SyncedOrderMonth,
    SyncedOrderClaim,
]
