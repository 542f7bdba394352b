"""Tables of the billing domain: plans and their prices."""

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


class PlanPrice(Table):
    """A price of a plan. Never edited once made: a price change adds a new row, and
    subscribers keep the price they signed up with."""

    id: Serial  # added by Piccolo; declared for the type checker
    plan = ForeignKey(references=Plan, null=False, on_delete=OnDelete.cascade)
    amount_cents = Integer(null=False)
    currency = Varchar(length=3, null=False)
    interval = Varchar(length=8, null=False)  # month, year
    # The price new subscribers get; older ones stay for those who have them.
    current = Boolean(null=False, default=True)
    created_at = Timestamptz(null=False, default=TimestamptzNow())


class Subscription(Table):
    """A shop's subscription to a plan at a price, as the billing provider reports it."""

    id: Serial  # added by Piccolo; declared for the type checker
    shop_domain = Varchar(length=255, null=False, index=True)
    plan = ForeignKey(references=Plan, null=False, on_delete=OnDelete.restrict)
    plan_price = ForeignKey(references=PlanPrice, null=False, on_delete=OnDelete.restrict)
    provider = Varchar(length=16, null=False)  # shopify, stripe
    external_id = Varchar(length=120, unique=True, null=False)
    # pending, active, declined, cancelled, frozen, expired, past_due
    status = Varchar(length=16, null=False, default="pending")
    trial_days = Integer(null=False, default=0)
    current_period_end = Timestamptz(null=True, default=None)
    # The provider's time of the last change applied: an older event never overwrites a newer one.
    provider_updated_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    updated_at = Timestamptz(null=False, default=TimestamptzNow())


TABLES: list[type[Table]] = [Plan, PlanPrice, Subscription]
