"""What the sync holds about a shop or one of its customers, found and forgotten.

On our side a customer is named by the links between their Shopify and CRM records (the
customer, or "guest:{email}" for a guest checkout; their orders; those orders'
fulfillments), by the sync activity of those entities (whose label may be their email), by
the repairs of reconciliation runs (which name them) and by the retry jobs of their failed
syncs. `Trail` gathers those entities on both sides once, so the stored webhooks about them
(jobqueue.privacy) and their orders' synced-order claims (billing.privacy) are found by the
same ids.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from connectors.shopify_ids import gid, numeric_id
from jobqueue.privacy import EntityRef, entity_ids_where, forget_jobs
from jobqueue.tables import WebhookSource
from sync.activity import retry_ordering_key
from sync.tables import Reconciliation, SyncActivity, SyncEntity, SyncLink, WebhookCheck

PERSONAL_ENTITY_TYPES = (SyncEntity.CUSTOMER, SyncEntity.ORDER, SyncEntity.FULFILLMENT)
# What a redacted customer's reconciliation repairs say instead of their name.
REDACTED_CUSTOMER = "a redacted customer"

SHOP_TABLES_FORGOTTEN = (SyncLink, SyncActivity, Reconciliation, WebhookCheck)


Entity = tuple[str, str]  # (entity type, id on one side)


@dataclass(frozen=True)
class Trail:
    """Every entity that names one customer, as each side knows it, and their emails."""

    shopify: frozenset[Entity]  # Shopify ids as links hold them: gids, or "guest:{email}"
    crm: frozenset[Entity]
    emails: frozenset[str]

    def ids(self, entity_type: str) -> tuple[list[str], list[str]]:
        """The Shopify ids and the CRM ids of this type, sorted."""
        return (
            sorted(value for kind, value in self.shopify if kind == entity_type),
            sorted(value for kind, value in self.crm if kind == entity_type),
        )

    @property
    def inbox_refs(self) -> set[EntityRef]:
        """The entities as stored webhooks name them (jobqueue.inbox.entity_id_of)."""
        refs = {
            (WebhookSource.SHOPIFY, kind, number)
            for kind, value in self.shopify
            if (number := numeric_id(value))
        }
        return refs | {(WebhookSource.CRM, kind, value) for kind, value in self.crm}

    @property
    def order_keys(self) -> set[str]:
        """The orders as the flows counted them against the plan: Shopify's gid, "crm:{id}" for
        an order placed in the CRM (sync.flows)."""
        shopify_ids, crm_ids = self.ids(SyncEntity.ORDER)
        return {*shopify_ids, *(f"crm:{crm_id}" for crm_id in crm_ids)}


def _ids_filter(column: Any, ids: Collection[str]) -> Any:
    return column.is_in(sorted(ids) or ["-"])


async def _with_linked(
    shop_domain: str, shopify: set[Entity], crm: set[Entity]
) -> tuple[set[Entity], set[Entity]]:
    """Both sets grown by the other side of every link of their entities."""
    shopify, crm = set(shopify), set(crm)
    for entity_type in PERSONAL_ENTITY_TYPES:
        shopify_ids = {value for kind, value in shopify if kind == entity_type}
        crm_ids = {value for kind, value in crm if kind == entity_type}
        if not shopify_ids and not crm_ids:
            continue
        rows = await SyncLink.select(SyncLink.shopify_id, SyncLink.crm_id).where(
            (SyncLink.shop_domain == shop_domain)
            & (SyncLink.entity_type == entity_type)
            & (_ids_filter(SyncLink.shopify_id, shopify_ids) | _ids_filter(SyncLink.crm_id, crm_ids))
        )
        shopify |= {(entity_type, row["shopify_id"]) for row in rows if row["shopify_id"]}
        crm |= {(entity_type, row["crm_id"]) for row in rows if row["crm_id"]}
    return shopify, crm


async def customer_trail(
    shop_domain: str, customer_id: str | None, email: str | None, order_ids: Iterable[str]
) -> Trail:
    """What names the customer of a Shopify privacy webhook (its customer id, email and orders):
    the customer and their orders on both sides, and those orders' fulfillments."""
    emails = {email.strip(), email.strip().lower()} - {""} if email else set()
    shopify: set[Entity] = {(SyncEntity.CUSTOMER, f"guest:{address}") for address in emails}
    if customer_id:
        shopify.add((SyncEntity.CUSTOMER, gid("Customer", customer_id)))
    shopify |= {(SyncEntity.ORDER, gid("Order", order_id)) for order_id in order_ids}
    shopify, crm = await _with_linked(shop_domain, shopify, set())
    # Links do not say which order a fulfillment belongs to; the webhooks that carried it do.
    shopify_orders = {
        number for kind, value in shopify if kind == SyncEntity.ORDER and (number := numeric_id(value))
    }
    crm_orders = {value for kind, value in crm if kind == SyncEntity.ORDER}
    shopify_fulfillments = await entity_ids_where(
        shop_domain, WebhookSource.SHOPIFY, SyncEntity.FULFILLMENT, ("order_id",), shopify_orders
    )
    crm_fulfillments = await entity_ids_where(
        shop_domain, WebhookSource.CRM, SyncEntity.FULFILLMENT, ("data", "order_id"), crm_orders
    )
    shopify |= {(SyncEntity.FULFILLMENT, gid("Fulfillment", number)) for number in shopify_fulfillments}
    crm |= {(SyncEntity.FULFILLMENT, crm_id) for crm_id in crm_fulfillments}
    shopify, crm = await _with_linked(shop_domain, shopify, crm)
    return Trail(frozenset(shopify), frozenset(crm), frozenset(emails))


async def forget_shop(shop_domain: str) -> int:
    """The shop's links, sync activity, reconciliation runs and webhook checks; returns how many
    rows went."""
    removed = 0
    for table in SHOP_TABLES_FORGOTTEN:
        removed += len(await table.delete().where(table.shop_domain == shop_domain).returning(table.id))
    return removed


async def forget_customer(shop_domain: str, trail: Trail) -> int:
    """Deletes the links and the sync activity of the trail's entities (and activity labelled
    with the customer's email), the jobs retrying them, and takes the customer's name out of
    reconciliation repairs. Returns how many rows were deleted or rewritten."""
    changed = 0
    retry_keys: list[str] = []
    for entity_type in PERSONAL_ENTITY_TYPES:
        shopify_ids, crm_ids = trail.ids(entity_type)
        if not shopify_ids and not crm_ids:
            continue
        links = (
            await SyncLink.delete()
            .where(
                (SyncLink.shop_domain == shop_domain)
                & (SyncLink.entity_type == entity_type)
                & (_ids_filter(SyncLink.shopify_id, shopify_ids) | _ids_filter(SyncLink.crm_id, crm_ids))
            )
            .returning(SyncLink.id)
        )
        # Activity names an entity by its id on the side the change came from.
        refs = [*shopify_ids, *crm_ids]
        activity = (
            await SyncActivity.delete()
            .where(
                (SyncActivity.shop_domain == shop_domain)
                & (SyncActivity.entity_type == entity_type)
                & SyncActivity.entity_ref.is_in(refs)
            )
            .returning(SyncActivity.id)
        )
        changed += len(links) + len(activity)
        retry_keys += [retry_ordering_key(entity_type, ref) for ref in refs]
    if trail.emails:
        labelled = (
            await SyncActivity.delete()
            .where((SyncActivity.shop_domain == shop_domain) & SyncActivity.label.is_in(sorted(trail.emails)))
            .returning(SyncActivity.id)
        )
        changed += len(labelled)
    await forget_jobs(shop_domain, retry_keys)
    return changed + await _redact_repairs(shop_domain, trail)


async def _redact_repairs(shop_domain: str, trail: Trail) -> int:
    shopify_ids, crm_ids = trail.ids(SyncEntity.CUSTOMER)
    names = {*shopify_ids, *crm_ids}
    runs = (
        await Reconciliation.select(Reconciliation.id, Reconciliation.repairs)
        .where(Reconciliation.shop_domain == shop_domain)
        .output(load_json=True)
    )
    rewritten = 0
    for run in runs:
        repairs = run["repairs"] if isinstance(run["repairs"], list) else []
        redacted = [
            {
                "entity_type": SyncEntity.CUSTOMER,
                "entity_ref": REDACTED_CUSTOMER,
                "what": str(repair.get("what", "")),
            }
            if _names_customer(repair, names)
            else repair
            for repair in repairs
        ]
        if redacted != repairs:
            await Reconciliation.update({Reconciliation.repairs: redacted}).where(
                Reconciliation.id == run["id"]
            )
            rewritten += 1
    return rewritten


def _names_customer(repair: Any, ids: set[str]) -> bool:
    if not isinstance(repair, dict) or repair.get("entity_type") != SyncEntity.CUSTOMER:
        return False
    # A repair names the customer by name, or by CRM id when they have none (sync.reconciliation).
    return bool({repair.get("shopify_id"), repair.get("crm_id"), repair.get("entity_ref")} & ids)
