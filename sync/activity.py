"""What happened to each synced entity, in words the merchant can act on, and the health figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Count, Max

from connectors.errors import Rejected
from iam.tables import Shop, ShopConnection
from iam.tokens import CUSTOM_APP_ACCESS_REFUSED, SHOPIFY_ACCESS_EXPIRED
from jobqueue.inbox import JOB_PROCESS_INBOX_EVENT
from jobqueue.jobs import enqueue
from jobqueue.tables import InboxEvent, Job, JobStatus
from sync.tables import Reconciliation, SyncActivity, SyncDirection, SyncEntity, SyncOutcome

ENTITY_LABELS = {
    SyncEntity.PRODUCT: "Products",
    SyncEntity.CUSTOMER: "Customers",
    SyncEntity.ORDER: "Orders",
    SyncEntity.FULFILLMENT: "Fulfillments",
}
DIRECTION_LABELS = {SyncDirection.TO_CRM: "Shopify → CRM", SyncDirection.TO_SHOPIFY: "CRM → Shopify"}

# The CRM's field names, as a merchant knows them.
FIELD_LABELS = {
    "email": "email",
    "phone": "phone number",
    "shipping_phone": "delivery phone number",
    "first_name": "first name",
    "last_name": "last name",
    "address": "address",
    "city": "city",
    "postal_code": "postal code",
    "country_code": "country",
}


def plain_reason(entity_type: str, error: Rejected) -> str:
    """The CRM's or Shopify's refusal, said so that the merchant knows what to fix."""
    what = entity_type
    if error.code == "external_id_taken":
        return (
            f"This {what} is already linked to another store in the CRM, so it cannot be linked to yours. "
            "Contact support if it should belong to this store."
        )
    if error.code == "customer_has_pending_orders":
        return (
            "The customer was not deleted in the CRM because they have an order that is still pending. "
            "Complete or cancel the order, then retry."
        )
    missing_address = sorted(
        FIELD_LABELS.get(field.rsplit(".", 1)[-1], field.rsplit(".", 1)[-1])
        for field, message in error.fields.items()
        if field.startswith("shipping_address.") and "required" in message.lower()
    )
    if missing_address:
        return (
            f"The delivery address is missing its {', '.join(missing_address)}. "
            "Add it to the order's shipping address in Shopify, then retry."
        )
    for field, message in error.fields.items():
        label = FIELD_LABELS.get(field.rsplit(".", 1)[-1], field)
        lowered = message.lower()
        if "already exists" in lowered or "already been taken" in lowered:
            return (
                f"Another customer in the CRM already has this {label}. "
                f"Change the {label} or merge the two customers, then retry."
            )
        if "format" in lowered or "invalid" in lowered or "not valid" in lowered:
            return f"The {label} is not valid: {message} Correct it in Shopify, then retry."
    detail = "; ".join(f"{FIELD_LABELS.get(f, f)}: {m}" for f, m in error.fields.items()) or str(error)
    system = "the CRM" if error.system == "CRM" else error.system
    return f"{system[0].upper()}{system[1:]} refused this {what}: {detail}"


async def record(
    shop_domain: str,
    entity_type: SyncEntity,
    direction: SyncDirection,
    entity_ref: str,
    outcome: SyncOutcome,
    reason: str = "",
    *,
    inbox_event: int | None = None,
    label: str = "",
) -> None:
    # The newest outcome speaks for the entity: a success settles its earlier failures, and a
    # new failure replaces them (one entry per entity for the merchant to act on).
    await SyncActivity.update({SyncActivity.resolved: True}).where(
        (SyncActivity.shop_domain == shop_domain)
        & (SyncActivity.entity_type == entity_type)
        & (SyncActivity.entity_ref == entity_ref)
        & (SyncActivity.outcome != SyncOutcome.SYNCED)
        & SyncActivity.resolved.eq(False)
    )
    await SyncActivity.insert(
        SyncActivity(
            shop_domain=shop_domain,
            entity_type=entity_type,
            direction=direction,
            entity_ref=entity_ref,
            outcome=outcome,
            reason=reason,
            inbox_event=inbox_event,
            label=label[:200],
            resolved=outcome == SyncOutcome.SYNCED,
        )
    )


@dataclass(frozen=True)
class Failure:
    id: int
    entity_type: SyncEntity
    direction: SyncDirection
    entity_ref: str
    label: str
    reason: str
    occurred_at: datetime
    retryable: bool


@dataclass(frozen=True)
class SyncHealth:
    last_synced: dict[str, datetime | None]
    backlog: int
    failures: list[Failure]
    dead_jobs: int
    last_reconciliation: dict[str, Any] | None
    # Since when Shopify no longer accepts the shop's tokens (one record per loss, kept on the
    # shop; iam.tokens): its jobs wait until the merchant opens the app from the admin.
    shopify_access_lost_at: datetime | None = None
    shopify_access_lost: str = SHOPIFY_ACCESS_EXPIRED
    # Where the merchant reconnects when it is not by opening the app from the admin.
    reconnect_url: str | None = None


async def sync_health(shop_domain: str, now: datetime) -> SyncHealth:
    last_synced: dict[str, datetime | None] = {}
    for entity_type in SyncEntity:
        row = (
            await SyncActivity.select(SyncActivity.occurred_at)
            .where(
                (SyncActivity.shop_domain == shop_domain)
                & (SyncActivity.entity_type == entity_type)
                & (SyncActivity.outcome == SyncOutcome.SYNCED)
            )
            .order_by(SyncActivity.occurred_at, ascending=False)
            .first()
        )
        last_synced[entity_type] = row["occurred_at"] if row else None
    # Due work only: the next scheduled refresh or reconciliation is not a backlog.
    backlog = await Job.count().where(
        (Job.shop_domain == shop_domain)
        & (((Job.status == JobStatus.QUEUED) & (Job.run_at <= now)) | (Job.status == JobStatus.RUNNING))
    )
    dead_jobs = await Job.count().where(
        (Job.shop_domain == shop_domain)
        & (Job.status == JobStatus.DEAD)
        & (Job.finished_at >= now - timedelta(days=1))
    )
    rows = (
        await SyncActivity.select()
        .where(
            (SyncActivity.shop_domain == shop_domain)
            & (SyncActivity.outcome != SyncOutcome.SYNCED)
            & SyncActivity.resolved.eq(False)
            & (SyncActivity.occurred_at >= now - timedelta(days=1))
        )
        .order_by(SyncActivity.occurred_at, ascending=False)
        .limit(50)
    )
    failures = [
        Failure(
            row["id"],
            SyncEntity(row["entity_type"]),
            SyncDirection(row["direction"]),
            row["entity_ref"],
            row["label"] or row["entity_ref"],
            row["reason"],
            row["occurred_at"],
            row["inbox_event"] is not None,
        )
        for row in rows
    ]
    last = (
        await Reconciliation.select()
        .where(Reconciliation.shop_domain == shop_domain)
        .order_by(Reconciliation.started_at, ascending=False)
        .output(load_json=True)
        .first()
    )
    shop = await Shop.select(Shop.access_lost_at, Shop.connection).where(Shop.domain == shop_domain).first()
    if shop is None or shop["access_lost_at"] is None:
        return SyncHealth(last_synced, backlog, failures, dead_jobs, last)
    custom_app = shop["connection"] == ShopConnection.ACCESS_TOKEN
    return SyncHealth(
        last_synced,
        backlog,
        failures,
        dead_jobs,
        last,
        shopify_access_lost_at=shop["access_lost_at"],
        shopify_access_lost=CUSTOM_APP_ACCESS_REFUSED if custom_app else SHOPIFY_ACCESS_EXPIRED,
        reconnect_url="/connect/" if custom_app else None,
    )


def retry_ordering_key(entity_type: str, entity_ref: str) -> str:
    """The ordering key of a retry's job: one entity's retries run one at a time."""
    return f"retry:{entity_type}:{entity_ref}"


async def retry_failure(shop_domain: str, activity_id: int) -> bool:
    """Processes the failed entity's event again; False when it is not this shop's or not retryable."""
    row = (
        await SyncActivity.select(SyncActivity.inbox_event, SyncActivity.entity_type, SyncActivity.entity_ref)
        .where((SyncActivity.id == activity_id) & (SyncActivity.shop_domain == shop_domain))
        .first()
    )
    if row is None or row["inbox_event"] is None:
        return False
    event = await InboxEvent.select(InboxEvent.id).where(InboxEvent.id == row["inbox_event"]).first()
    if event is None:
        return False
    await enqueue(
        JOB_PROCESS_INBOX_EVENT,
        {"event_id": event["id"]},
        shop_domain=shop_domain,
        ordering_key=retry_ordering_key(row["entity_type"], row["entity_ref"]),
    )
    await SyncActivity.update({SyncActivity.resolved: True}).where(SyncActivity.id == activity_id)
    return True


async def record_rejection(
    shop_domain: str,
    entity_type: SyncEntity,
    direction: SyncDirection,
    entity_ref: str,
    error: Rejected,
    inbox_event: int,
    *,
    label: str = "",
) -> None:
    """A refusal retrying cannot fix: kept for the merchant with its reason and a retry after the fix."""
    await record(
        shop_domain,
        entity_type,
        direction,
        entity_ref,
        SyncOutcome.REJECTED,
        plain_reason(entity_type, error),
        inbox_event=inbox_event,
        label=label,
    )


@dataclass(frozen=True)
class ShopSyncSummary:
    shop_domain: str
    last_synced: datetime | None
    backlog: int
    failures: int
    dead_jobs: int
    last_reconciliation: datetime | None
    repairs: int
    # Since when Shopify no longer accepts the shop's tokens (its jobs wait for a reconnect).
    shopify_access_lost_at: datetime | None = None


def _as_datetime(value: datetime | str) -> datetime:
    """An aggregate's timestamp: SQLite hands MAX() back as text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


async def sync_overview(now: datetime) -> tuple[list[ShopSyncSummary], list[dict[str, Any]]]:
    """Operators' view: every shop's sync figures, and the latest unresolved failures across shops."""
    day_ago = now - timedelta(days=1)
    last_synced = {
        row["shop_domain"]: _as_datetime(row["last"])
        for row in await SyncActivity.select(
            SyncActivity.shop_domain, Max(SyncActivity.occurred_at, alias="last")
        )
        .where(SyncActivity.outcome == SyncOutcome.SYNCED)
        .group_by(SyncActivity.shop_domain)
    }
    backlog = {
        row["shop_domain"]: int(row["n"])
        for row in await Job.select(Job.shop_domain, Count(Job.id, alias="n"))
        .where(((Job.status == JobStatus.QUEUED) & (Job.run_at <= now)) | (Job.status == JobStatus.RUNNING))
        .group_by(Job.shop_domain)
    }
    dead = {
        row["shop_domain"]: int(row["n"])
        for row in await Job.select(Job.shop_domain, Count(Job.id, alias="n"))
        .where((Job.status == JobStatus.DEAD) & (Job.finished_at >= day_ago))
        .group_by(Job.shop_domain)
    }
    unresolved = (
        (SyncActivity.outcome != SyncOutcome.SYNCED)
        & SyncActivity.resolved.eq(False)
        & (SyncActivity.occurred_at >= day_ago)
    )
    failures = {
        row["shop_domain"]: int(row["n"])
        for row in await SyncActivity.select(SyncActivity.shop_domain, Count(SyncActivity.id, alias="n"))
        .where(unresolved)
        .group_by(SyncActivity.shop_domain)
    }
    reconciliations: dict[str, dict[str, Any]] = {}
    for row in (
        await Reconciliation.select(
            Reconciliation.shop_domain, Reconciliation.started_at, Reconciliation.repairs
        )
        .order_by(Reconciliation.started_at)
        .output(load_json=True)
    ):
        reconciliations[row["shop_domain"]] = row  # the latest run of each shop wins
    access_lost = {
        row["domain"]: row["access_lost_at"]
        for row in await Shop.select(Shop.domain, Shop.access_lost_at).where(
            Shop.access_lost_at.is_not_null()
        )
    }
    shops = sorted({*last_synced, *backlog, *dead, *failures, *reconciliations, *access_lost} - {None})
    summaries = [
        ShopSyncSummary(
            shop_domain=shop,
            last_synced=last_synced.get(shop),
            backlog=backlog.get(shop, 0),
            failures=failures.get(shop, 0),
            dead_jobs=dead.get(shop, 0),
            last_reconciliation=(reconciliations.get(shop) or {}).get("started_at"),
            repairs=len((reconciliations.get(shop) or {}).get("repairs") or []),
            shopify_access_lost_at=access_lost.get(shop),
        )
        for shop in shops
    ]
    recent = await (
        SyncActivity.select().where(unresolved).order_by(SyncActivity.occurred_at, ascending=False).limit(50)
    )
    return summaries, recent


HISTORY_RETENTION = timedelta(days=30)


async def prune_history(now: datetime) -> int:
    """Sync activity, reconciliation runs and finished jobs older than 30 days go; returns how many."""
    cutoff = now - HISTORY_RETENTION
    removed = len(
        await SyncActivity.delete().where(SyncActivity.occurred_at < cutoff).returning(SyncActivity.id)
    )
    removed += len(
        await Reconciliation.delete().where(Reconciliation.started_at < cutoff).returning(Reconciliation.id)
    )
    removed += len(
        await Job.delete()
        .where((Job.status == JobStatus.DONE) & (Job.finished_at < cutoff))
        .returning(Job.id)
    )
    return removed
