"""Tables of the analytics domain: the append-only traffic events, the order facts the CRM's
orders give, and the per funnel, day and variant rollups the pages read.

Funnels sit above this domain, so a funnel is named by its id (no foreign key): the funnels
domain hands in what the pages need to know about it. `variant` is the split-test variant a
visitor saw ("" when the funnel runs no test); every table carries it so each variant's
figures add up to the funnel's.
Money is held exactly, in hundredths of the currency's unit (`*_cents`): the CRM's prices are
decimal strings with two decimals.
"""

from enum import StrEnum

from piccolo.columns import JSON, BigInt, Boolean, Date, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class EventKind(StrEnum):
    """What the live page reports (the beacon's `k`)."""

    PAGE_VIEW = "page_view"
    OFFER_VIEW = "offer_view"  # `offer` is the CRM offer id the page shows
    OFFER_ACCEPT = "offer_accept"
    OFFER_DECLINE = "offer_decline"


class TrafficEvent(Table):
    """One beacon event, appended and never updated: the rollup job reads them in id order."""

    id: Serial  # added by Piccolo; declared for the type checker
    # Dedupes: "{funnel}:{client's event id}", or for a page/offer view without one
    # "{funnel}:{visitor}:{kind}:{offer}:{reload window}", so a repeat counts once.
    event_key = Varchar(length=200, null=False, unique=True)
    shop_domain = Varchar(length=255, null=False)
    funnel_id = Integer(null=False)
    variant = Varchar(length=32, null=False, default="")
    kind = Varchar(length=16, null=False, choices=EventKind)
    offer = Varchar(length=80, null=False, default="")  # the CRM offer id, "" for a page view
    # A random first-party id the live page made (cookie or localStorage): never personal data.
    visitor = Varchar(length=64, null=False, default="")
    occurred_at = Timestamptz(null=False, default=TimestamptzNow())


class OrderFact(Table):
    """A CRM order of a funnel's campaign as analytics counts it, one row per CRM order,
    replaced by each newer copy of the order (order.created, order.updated)."""

    id: Serial  # added by Piccolo; declared for the type checker
    shop_domain = Varchar(length=255, null=False, index=True)
    funnel_id = Integer(null=False, index=True)
    variant = Varchar(length=32, null=False, default="")
    crm_order_id = Varchar(length=80, null=False)
    # "{shop}:{crm order id}": one row per order of a shop.
    order_key = Varchar(length=340, null=False, unique=True)
    day = Date(null=False)  # the UTC day the order was placed
    status = Varchar(length=16, null=False, default="")
    # False once cancelled or refunded: it then adds nothing to orders or revenue.
    counted = Boolean(null=False, default=True)
    total_cents = BigInt(null=False, default=0)
    # [{"product": CRM product id, "quantity": n, "cents": line total}], as the order holds them.
    lines = JSON(null=False, default="[]")
    crm_updated_at = Timestamptz(null=True, default=None)  # an older copy never replaces a newer
    updated_at = Timestamptz(null=False, default=TimestamptzNow())


class FunnelDay(Table):
    """Rollup: one funnel's traffic and orders on one UTC day, per split-test variant.

    Read through covering indexes only (migration analytics_2026_12_08t00_46): by funnel and
    day, and by shop and day; single-column indexes would tempt SQLite's planner into
    scanning a whole shop for one funnel."""

    id: Serial  # added by Piccolo; declared for the type checker
    shop_domain = Varchar(length=255, null=False)
    funnel_id = Integer(null=False)
    day = Date(null=False)
    variant = Varchar(length=32, null=False, default="")
    # "{funnel}:{day}:{variant}"
    rollup_key = Varchar(length=120, null=False, unique=True)
    visits = Integer(null=False, default=0)  # distinct visitors that day
    page_views = Integer(null=False, default=0)
    orders = Integer(null=False, default=0)
    revenue_cents = BigInt(null=False, default=0)


class ShopDay(Table):
    """Rollup: a shop's funnels summed on one UTC day (every variant), so the shop overview's
    totals, series and previous period read one row a day instead of one per funnel. The rollup
    job keeps it equal to the sum of the shop's FunnelDay rows of that day: it adds each funnel
    day's change in the transaction that rewrites that funnel day (analytics/rollup.py)."""

    id: Serial  # added by Piccolo; declared for the type checker
    shop_domain = Varchar(length=255, null=False)
    day = Date(null=False)
    # "{shop}:{day}"
    rollup_key = Varchar(length=280, null=False, unique=True)
    visits = Integer(null=False, default=0)
    page_views = Integer(null=False, default=0)
    orders = Integer(null=False, default=0)
    revenue_cents = BigInt(null=False, default=0)


class OfferDay(Table):
    """Rollup: one offer of a funnel on one UTC day, per variant. Traffic rows are keyed by the
    CRM offer id the page shows (`offer`); order rows by the CRM product bought (`product`)."""

    id: Serial  # added by Piccolo; declared for the type checker
    shop_domain = Varchar(length=255, null=False)
    funnel_id = Integer(null=False)
    day = Date(null=False)
    variant = Varchar(length=32, null=False, default="")
    offer = Varchar(length=80, null=False, default="")
    product = Varchar(length=80, null=False, default="")
    # "{funnel}:{day}:{variant}:{offer}:{product}"
    rollup_key = Varchar(length=300, null=False, unique=True)
    views = Integer(null=False, default=0)
    accepts = Integer(null=False, default=0)
    declines = Integer(null=False, default=0)
    orders = Integer(null=False, default=0)  # counted orders holding the product
    revenue_cents = BigInt(null=False, default=0)


class RollupCursor(Table):
    """How far the rollup job has read the events: one row per name."""

    id: Serial  # added by Piccolo; declared for the type checker
    name = Varchar(length=40, null=False, unique=True)
    last_event_id = BigInt(null=False, default=0)
    updated_at = Timestamptz(null=False, default=TimestamptzNow())


TABLES: list[type[Table]] = [TrafficEvent, OrderFact, FunnelDay, ShopDay, OfferDay, RollupCursor]
