"""Tables of the funnels domain: funnels, their upsell and downsell offers and the publish saga's steps."""

from enum import StrEnum

from piccolo.columns import JSON, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class FunnelStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHING = "publishing"
    LIVE = "live"
    FAILED = "failed"  # a publish step failed for good: the merchant retries
    ARCHIVED = "archived"  # page offline, CRM campaign inactive; kept for its history


class HostKind(StrEnum):
    SUBDOMAIN = "subdomain"  # a free address on the page host
    CUSTOM_DOMAIN = "custom_domain"


class Funnel(Table):
    """One sales funnel of a shop, from its first draft to the live page."""

    id: Serial  # added by Piccolo; declared for the type checker
    # Every query is scoped by the shop of the merchant's session.
    shop_domain = Varchar(length=255, null=False, index=True)
    status = Varchar(length=16, null=False, default=FunnelStatus.DRAFT, choices=FunnelStatus)
    # 1. Campaign information
    name = Varchar(length=120, null=False, default="")
    description = Text(null=False, default="")
    currency = Varchar(length=3, null=False, default="")
    country = Varchar(length=2, null=False, default="")
    # 2. Main product: Shopify ids plus what the merchant saw when choosing it.
    main_product_id = Varchar(length=80, null=True, default=None)
    main_variant_id = Varchar(length=80, null=True, default=None)
    main_product = JSON(null=False, default="{}")
    # 3. Upsells (rows in Upsell); set when the merchant confirms the list.
    upsells_confirmed = Boolean(null=False, default=False)
    # 4. Template
    template_id = Varchar(length=80, null=True, default=None)
    template_name = Varchar(length=120, null=False, default="")
    # 5. Hosting
    host_kind = Varchar(length=16, null=True, default=None, choices=HostKind)
    subdomain = Varchar(length=63, null=True, default=None)
    custom_domain = Varchar(length=253, null=True, default=None)
    # Funnel settings (seeds/004)
    fulfilled_by_crm = Boolean(null=False, default=False)
    keep_products_synced = Boolean(null=False, default=True)
    keep_orders_synced = Boolean(null=False, default=True)
    # Publishing
    live_url = Varchar(length=500, null=True, default=None)
    published_at = Timestamptz(null=True, default=None)
    archived_at = Timestamptz(null=True, default=None)
    # When the live page last showed the store's current products (set by publishing and by
    # each refresh after a product change); the merchant sees it on the funnel.
    page_synced_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    updated_at = Timestamptz(null=False, default=TimestamptzNow())


class DiscountType(StrEnum):
    NONE = "none"
    PERCENTAGE = "percentage"
    FIXED_AMOUNT = "fixed_amount"


class Upsell(Table):
    """An offer shown after the main product, in `position` order."""

    id: Serial  # added by Piccolo; declared for the type checker
    funnel = ForeignKey(references=Funnel, null=False, on_delete=OnDelete.cascade)
    position = Integer(null=False, default=0)
    headline = Varchar(length=200, null=False, default="")
    discount_type = Varchar(length=16, null=False, default=DiscountType.NONE, choices=DiscountType)
    discount_value = Varchar(length=16, null=False, default="0")  # a decimal string, exact
    product_id = Varchar(length=80, null=True, default=None)
    variant_id = Varchar(length=80, null=True, default=None)
    product = JSON(null=False, default="{}")


class Downsell(Table):
    """The funnel's one downsell: offered when a shopper declines an upsell (as Zipify OCU and
    AfterSell do), usually something cheaper or a bigger discount. Optional."""

    id: Serial  # added by Piccolo; declared for the type checker
    # Unique: one downsell per funnel, so saving it again replaces it.
    funnel = ForeignKey(references=Funnel, null=False, unique=True, on_delete=OnDelete.cascade)
    headline = Varchar(length=200, null=False, default="")
    discount_type = Varchar(length=16, null=False, default=DiscountType.NONE, choices=DiscountType)
    discount_value = Varchar(length=16, null=False, default="0")  # a decimal string, exact
    product_id = Varchar(length=80, null=True, default=None)
    variant_id = Varchar(length=80, null=True, default=None)
    product = JSON(null=False, default="{}")


class PublishStepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class PublishStep(Table):
    """One step of a funnel's publish saga: its state survives a crash and drives the resume."""

    id: Serial  # added by Piccolo; declared for the type checker
    funnel = ForeignKey(references=Funnel, null=False, on_delete=OnDelete.cascade)
    name = Varchar(length=40, null=False)
    position = Integer(null=False, default=0)
    status = Varchar(length=16, null=False, default=PublishStepStatus.PENDING, choices=PublishStepStatus)
    attempts = Integer(null=False, default=0)
    error = Text(null=True, default=None)
    # Ids the step created remotely, so a retry updates instead of creating again.
    result = JSON(null=False, default="{}")
    updated_at = Timestamptz(null=False, default=TimestamptzNow())


class SplitTestStatus(StrEnum):
    STARTING = "starting"  # variant B's page is being published
    RUNNING = "running"
    FAILED = "failed"  # variant B's page could not be published; nothing else changed
    ENDED = "ended"  # a winner was chosen; kept for the history


class SplitTestChange(StrEnum):
    """What variant B changes of the funnel (variant A is the funnel as it is)."""

    TEMPLATE = "template"
    HEADLINE = "headline"
    UPSELL_DISCOUNT = "upsell_discount"
    UPSELL_ORDER = "upsell_order"


class SplitTest(Table):
    """An A/B test of a live funnel: variant A is the funnel's page, variant B its own site on
    the page service with one change; visitors of the funnel's entry address are split."""

    id: Serial  # added by Piccolo; declared for the type checker
    funnel = ForeignKey(references=Funnel, null=False, on_delete=OnDelete.cascade)
    shop_domain = Varchar(length=255, null=False, index=True)
    status = Varchar(length=16, null=False, default=SplitTestStatus.STARTING, choices=SplitTestStatus)
    change = Varchar(length=24, null=False, choices=SplitTestChange)
    # What B changes: {"template_id", "template_name"} | {"headline"} |
    # {"upsell_id", "discount_type", "discount_value"} | {"upsell_ids": [...] in B's order}.
    variant_b = JSON(null=False, default="{}")
    b_percent = Integer(null=False, default=50)  # the share of visitors sent to B, 1..99
    b_site_id = Varchar(length=80, null=True, default=None)
    b_url = Varchar(length=500, null=True, default=None)
    error = Text(null=True, default=None)
    winner = Varchar(length=1, null=True, default=None)  # "a" or "b" once ended
    # Each variant's figures when the test ended, so the history does not change later.
    results = JSON(null=False, default="{}")
    started_at = Timestamptz(null=False, default=TimestamptzNow())
    ended_at = Timestamptz(null=True, default=None)


TABLES: list[type[Table]] = [Funnel, Upsell, Downsell, PublishStep, SplitTest]
