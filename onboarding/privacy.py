"""Uninstall and Shopify's mandatory privacy webhooks."""

from __future__ import annotations

from typing import Any

import structlog

from iam.sessions import end_sessions_of_shop
from iam.tables import ExternalAccount, OAuthState, PrivacyRequest, Shop
from jobqueue.inbox import InboxEventData
from jobqueue.jobs import cancel_jobs_of_shop
from jobqueue.tables import InboxEvent, Job
from lib.clock import utcnow
from lib.db import write_transaction
from sync.tables import Reconciliation, SyncActivity, SyncEntity, SyncLink

log = structlog.get_logger("funnelsync.privacy")


async def uninstall(shop_domain: str) -> None:
    """Access ends now: tokens and sessions deleted, queued work stopped. Data stays for reinstall."""
    async with write_transaction():
        shop = await Shop.select(Shop.id).where(Shop.domain == shop_domain).first()
        if shop is None:
            return
        await Shop.update(
            {
                Shop.access_token: None,
                Shop.access_token_expires_at: None,
                Shop.refresh_token: None,
                Shop.refresh_token_expires_at: None,
                Shop.token_version: Shop.token_version + 1,
                Shop.uninstalled_at: utcnow(),
            }
        ).where(Shop.id == shop["id"])
        await ExternalAccount.update(
            {ExternalAccount.access_token: None, ExternalAccount.access_token_expires_at: None}
        ).where(ExternalAccount.shop == shop["id"])
        sessions = await end_sessions_of_shop(shop_domain)
        cancelled = await cancel_jobs_of_shop(shop_domain)
    log.info("shop_uninstalled", shop=shop_domain, sessions_ended=sessions, jobs_cancelled=cancelled)


async def handle_app_uninstalled(event: InboxEventData) -> None:
    if event.shop_domain:
        await uninstall(event.shop_domain)


def _customer_id(payload: dict[str, Any]) -> str | None:
    customer = payload.get("customer") or {}
    value = customer.get("id") if isinstance(customer, dict) else None
    return str(value) if value is not None else None


def _customer_events(shop_domain: str, customer_id: str | None, order_ids: list[str]) -> Any:
    ids = [value for value in [customer_id, *order_ids] if value]
    return (InboxEvent.shop_domain == shop_domain) & InboxEvent.entity_id.is_in(ids or ["-"])


async def handle_customer_data_request(event: InboxEventData) -> None:
    """Gathers what we hold about the customer into an export record for the merchant."""
    shop_domain = str(event.shop_domain)
    customer_id = _customer_id(event.payload)
    order_ids = [str(order) for order in event.payload.get("orders_requested", [])]
    held = (
        await InboxEvent.select(InboxEvent.topic, InboxEvent.received_at, InboxEvent.payload)
        .where(_customer_events(shop_domain, customer_id, order_ids) & (InboxEvent.id != event.id))
        .output(load_json=True)
    )
    export = {
        "customer_id": customer_id,
        "orders_requested": order_ids,
        "records": [
            {"topic": row["topic"], "received_at": row["received_at"].isoformat(), "data": row["payload"]}
            for row in held
        ],
    }
    await PrivacyRequest.insert(
        PrivacyRequest(
            shop_domain=shop_domain,
            topic=event.topic,
            customer_id=customer_id,
            export=export,
            outcome=f"{len(held)} record(s) exported",
        )
    )


async def handle_customer_redact(event: InboxEventData) -> None:
    """Deletes the customer's personal data we hold, keeping only the fact that we did."""
    shop_domain = str(event.shop_domain)
    customer_id = _customer_id(event.payload)
    order_ids = [str(order) for order in event.payload.get("orders_to_redact", [])]
    async with write_transaction():
        deleted = (
            await InboxEvent.delete()
            .where(_customer_events(shop_domain, customer_id, order_ids) & (InboxEvent.id != event.id))
            .returning(InboxEvent.id)
        )
        customer_gid = f"gid://shopify/Customer/{customer_id}"
        await SyncLink.delete().where(
            (SyncLink.shop_domain == shop_domain)
            & (SyncLink.entity_type == SyncEntity.CUSTOMER)
            & (SyncLink.shopify_id == customer_gid)
        )
        await SyncActivity.delete().where(
            (SyncActivity.shop_domain == shop_domain) & (SyncActivity.entity_ref == customer_gid)
        )
        # The request itself names the customer: keep only its id, drop the contact details.
        await InboxEvent.update({InboxEvent.payload: {"customer": {"id": customer_id}}}).where(
            InboxEvent.id == event.id
        )
        await PrivacyRequest.insert(
            PrivacyRequest(
                shop_domain=shop_domain,
                topic=event.topic,
                customer_id=customer_id,
                outcome=f"{len(deleted)} record(s) deleted",
            )
        )


async def handle_shop_redact(event: InboxEventData) -> None:
    """48 hours after uninstall: everything we hold about the shop goes."""
    shop_domain = str(event.shop_domain)
    async with write_transaction():
        await end_sessions_of_shop(shop_domain)
        await Job.delete().where(Job.shop_domain == shop_domain)
        await InboxEvent.delete().where(InboxEvent.shop_domain == shop_domain)
        for table in (SyncLink, SyncActivity, Reconciliation):
            await table.delete().where(table.shop_domain == shop_domain)
        await OAuthState.delete().where(OAuthState.shop_domain == shop_domain)
        await Shop.delete().where(Shop.domain == shop_domain)  # its accounts cascade
        await PrivacyRequest.insert(
            PrivacyRequest(shop_domain=shop_domain, topic=event.topic, outcome="shop data deleted")
        )


TOPIC_HANDLERS = {
    "shopify:app/uninstalled": handle_app_uninstalled,
    "shopify:customers/data_request": handle_customer_data_request,
    "shopify:customers/redact": handle_customer_redact,
    "shopify:shop/redact": handle_shop_redact,
}
