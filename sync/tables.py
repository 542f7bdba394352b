"""Tables of the sync domain: links between both sides, sync activity (health), reconciliations,
webhook subscription checks."""

from enum import StrEnum

from piccolo.columns import JSON, Boolean, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class SyncEntity(StrEnum):
    """The kinds of entity synced (links and activity name them, and links' keys hold them)."""

    PRODUCT = "product"
    CUSTOMER = "customer"
    ORDER = "order"
    FULFILLMENT = "fulfillment"


class SyncLink(Table):
    """One entity known on both sides: its Shopify id, its CRM id, and what was last synced.

    `content_hash` is the hash of the entity's synced fields as both sides last agreed.
    A change arriving from either side with that same content is our own write echoing
    back (or no change at all) and is not written again: no ping-pong.
    """

    id: Serial  # added by Piccolo; declared for the type checker
    shop_domain = Varchar(length=255, null=False, index=True)
    entity_type = Varchar(length=16, null=False, choices=SyncEntity)
    shopify_id = Varchar(length=120, null=True, default=None)
    crm_id = Varchar(length=120, null=True, default=None)
    # "{shop}:{entity type}:{id}": one link per entity on each side.
    shopify_key = Varchar(length=400, null=True, default=None, unique=True)
    crm_key = Varchar(length=400, null=True, default=None, unique=True)
    content_hash = Varchar(length=64, null=False, default="")
    # Shopify's `updatedAt` of the entity as last synced (customers): webhooks no longer carry
    # every synced field, so a webhook no newer than this tells nothing new.
    shopify_updated_at = Timestamptz(null=True, default=None)
    synced_at = Timestamptz(null=False, default=TimestamptzNow())


class SyncDirection(StrEnum):
    TO_CRM = "shopify-to-crm"
    TO_SHOPIFY = "crm-to-shopify"


class SyncOutcome(StrEnum):
    SYNCED = "synced"
    REJECTED = "rejected"  # refused by the other side: the merchant fixes it, then retries
    # Not written: over the plan's order limit, a deletion the other side refused or that is
    # not carried to it, a status the other side cannot take from us.
    HELD = "held"


class SyncActivity(Table):
    """One outcome of syncing one entity: what sync health shows the merchant and operators."""

    id: Serial  # added by Piccolo; declared for the type checker
    shop_domain = Varchar(length=255, null=False, index=True)
    entity_type = Varchar(length=16, null=False, choices=SyncEntity)
    direction = Varchar(length=16, null=False, choices=SyncDirection)
    entity_ref = Varchar(length=120, null=False)  # the entity's id on the side it came from
    label = Varchar(length=200, null=False, default="")  # how the merchant knows it: "#1001", an email
    outcome = Varchar(length=16, null=False, choices=SyncOutcome)
    # What went wrong in words the merchant can act on; empty when synced.
    reason = Text(null=False, default="")
    inbox_event = Integer(null=True, default=None)  # the event to process again on retry
    resolved = Boolean(null=False, default=False)
    occurred_at = Timestamptz(null=False, default=TimestamptzNow(), index=True)


class Reconciliation(Table):
    """One run comparing both sides for a shop, and what it repaired."""

    id: Serial  # added by Piccolo; declared for the type checker
    shop_domain = Varchar(length=255, null=False, index=True)
    started_at = Timestamptz(null=False, default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
    checked = Integer(null=False, default=0)
    repairs = JSON(null=False, default="[]")  # [{"entity_type", "entity_ref", "what"}]
    error = Text(null=True, default=None)


class WebhookCheck(Table):
    """The last comparison of a shop's Shopify webhook subscriptions with the topic registry
    (sync.subscriptions.check_webhooks): what was missing, what was re-created, and the
    reconciliation queued over the gap. One row per shop, for connection health."""

    id: Serial  # added by Piccolo; declared for the type checker
    shop_domain = Varchar(length=255, null=False, unique=True)
    checked_at = Timestamptz(null=False, default=TimestamptzNow())
    # Topics without a subscription at the last check (re-created by it unless `error`).
    missing = JSON(null=False, default="[]")
    # The last time subscriptions had to be re-created, which, and since when they may have
    # been gone (the check before that found them all).
    healed_at = Timestamptz(null=True, default=None)
    healed = JSON(null=False, default="[]")
    gap_since = Timestamptz(null=True, default=None)
    # When everything was last found subscribed.
    complete_at = Timestamptz(null=True, default=None)
    error = Text(null=True, default=None)


TABLES: list[type[Table]] = [SyncLink, SyncActivity, Reconciliation, WebhookCheck]
