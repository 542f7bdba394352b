"""Uninstall and Shopify's mandatory privacy webhooks, across every domain.

Each domain forgets its own rows (alerts/, funnels/, analytics/, sync/, billing/, iam/, jobqueue/ privacy.py);
this module orchestrates them, each request in one transaction. What goes, what stays and
for how long: docs/privacy.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import structlog

from alerts import privacy as alerts_privacy
from analytics import privacy as analytics_privacy
from billing import privacy as billing_privacy
from connectors.errors import Rejected, Unauthorized
from connectors.shopify import ShopifyAdmin
from funnels import privacy as funnels_privacy
from iam import privacy as iam_privacy
from iam.sessions import end_sessions_of_shop
from iam.tables import ExternalAccount, Shop
from iam.tokens import ShopNotConnected
from jobqueue import privacy as jobqueue_privacy
from jobqueue.inbox import InboxEventData, TopicHandler
from jobqueue.jobs import cancel_jobs_of_shop
from jobqueue.tables import InboxEvent
from lib.clock import utcnow
from lib.db import write_transaction
from sync import privacy as sync_privacy
from sync.tables import SyncEntity

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


class ShopifyClients(Protocol):
    """What the uninstall handler asks Shopify through (iam.clients.ShopClients)."""

    async def shopify_for(self, shop_domain: str) -> ShopifyAdmin: ...


CONFIRM_QUERY = "{ shop { id } }"


async def access_revoked(clients: ShopifyClients, shop_domain: str) -> bool:
    """Whether Shopify no longer takes the shop's token (nor refreshes it), as after an
    uninstall. Failures that say nothing about the token (timeouts, 5xx) raise, so the job is
    tried again later."""
    try:
        shopify = await clients.shopify_for(shop_domain)
        await shopify.graphql(CONFIRM_QUERY)
    except (Unauthorized, ShopNotConnected):
        return True  # refused twice, the refresh refused, or no token left to send
    except Rejected as refused:
        if refused.status_code in (400, 401):
            return True  # the refresh token refused (invalid_grant) or the app's access gone
        raise
    return False


async def handle_app_uninstalled(clients: ShopifyClients, event: InboxEventData) -> None:
    """Access ends only once Shopify confirms it: the webhook's shop and topic headers are not
    signed, so a re-labelled delivery must not uninstall a shop whose token still works."""
    if not event.shop_domain:
        return
    if not await access_revoked(clients, event.shop_domain):
        log.warning("uninstall_not_confirmed", shop=event.shop_domain, event_id=event.id)
        return
    await uninstall(event.shop_domain)


def _customer_id(payload: dict[str, Any]) -> str | None:
    customer = payload.get("customer") or {}
    value = customer.get("id") if isinstance(customer, dict) else None
    return str(value) if value is not None else None


def _customer_email(payload: dict[str, Any]) -> str | None:
    customer = payload.get("customer") or {}
    value = customer.get("email") if isinstance(customer, dict) else None
    return str(value) if value else None


def _order_ids(payload: dict[str, Any], key: str) -> list[str]:
    orders = payload.get(key)
    return [str(order) for order in orders] if isinstance(orders, list) else []


async def handle_customer_data_request(event: InboxEventData) -> None:
    """Gathers what we hold about the customer into an export record for the merchant: the
    webhooks about them and their orders, as received (the same ones a redaction deletes)."""
    shop_domain = str(event.shop_domain)
    customer_id = _customer_id(event.payload)
    order_ids = _order_ids(event.payload, "orders_requested")
    trail = await sync_privacy.customer_trail(
        shop_domain, customer_id, _customer_email(event.payload), order_ids
    )
    held = await jobqueue_privacy.events_about(shop_domain, trail.inbox_refs, exclude=event.id)
    export = {
        "customer_id": customer_id,
        "orders_requested": order_ids,
        "records": [
            {"topic": row["topic"], "received_at": row["received_at"].isoformat(), "data": row["payload"]}
            for row in held
        ],
    }
    await iam_privacy.record_request(
        shop_domain,
        event.topic,
        f"{len(held)} record(s) exported",
        customer_id=customer_id,
        export=export,
    )


async def handle_customer_redact(event: InboxEventData) -> None:
    """Deletes every row naming the customer, their orders or those orders' fulfillments, in
    every domain, keeping only the fact that we did (docs/privacy.md)."""
    shop_domain = str(event.shop_domain)
    customer_id = _customer_id(event.payload)
    order_ids = _order_ids(event.payload, "orders_to_redact")
    async with write_transaction():
        trail = await sync_privacy.customer_trail(
            shop_domain, customer_id, _customer_email(event.payload), order_ids
        )
        # The stored webhooks hold the personal data as received; the rest names the customer.
        events = await jobqueue_privacy.forget_events(shop_domain, trail.inbox_refs, exclude=event.id)
        others = await sync_privacy.forget_customer(shop_domain, trail)
        others += await billing_privacy.forget_orders(shop_domain, trail.order_keys)
        others += await analytics_privacy.forget_orders(shop_domain, trail.ids(SyncEntity.ORDER)[1])
        others += await iam_privacy.forget_customer(shop_domain, customer_id)
        # The request itself names the customer: keep only its id, drop the contact details.
        await InboxEvent.update({InboxEvent.payload: {"customer": {"id": customer_id}}}).where(
            InboxEvent.id == event.id
        )
        await iam_privacy.record_request(
            shop_domain, event.topic, f"{events + others} record(s) deleted", customer_id=customer_id
        )
    log.info("customer_redacted", shop=shop_domain, events=events, other_records=others)


async def forget_shop(shop_domain: str) -> dict[str, int]:
    """Every domain forgets the shop, top layer first; how many rows each deleted. Call it in
    a transaction. Billing keeps its accounting records (billing.privacy)."""
    return {
        "alerts": await alerts_privacy.forget_shop(shop_domain),
        "funnels": await funnels_privacy.forget_shop(shop_domain),
        "analytics": await analytics_privacy.forget_shop(shop_domain),
        "sync": await sync_privacy.forget_shop(shop_domain),
        "billing": await billing_privacy.forget_shop(shop_domain),
        "iam": await iam_privacy.forget_shop(shop_domain),
        "jobqueue": await jobqueue_privacy.forget_shop(shop_domain),
    }


async def handle_shop_redact(event: InboxEventData) -> None:
    """48 hours after uninstall: everything we hold about the shop goes, in one transaction,
    but its billing records, kept for accounting, and the record of this request. Only for a
    shop that uninstalled: a shop still installed (or unknown) is left as it is."""
    shop_domain = str(event.shop_domain)
    shop = await Shop.select(Shop.uninstalled_at).where(Shop.domain == shop_domain).first()
    if shop is None or shop["uninstalled_at"] is None:
        log.warning("shop_redact_ignored", shop=shop_domain, event_id=event.id, installed=shop is not None)
        return
    async with write_transaction():
        removed = await forget_shop(shop_domain)
        await iam_privacy.record_request(
            shop_domain,
            event.topic,
            f"shop data deleted ({sum(removed.values())} row(s)); subscription records kept for accounting",
        )
    log.info("shop_redacted", shop=shop_domain, **removed)


async def prune_kept_records(now: datetime) -> int:
    """What privacy requests kept, once its retention is over (housekeeping); returns how many rows went."""
    return await billing_privacy.prune_accounting_records(now) + await iam_privacy.prune_privacy_records(now)


def topic_handlers(clients: ShopifyClients) -> dict[str, TopicHandler]:
    """By the names their topics carry in the registry (sync/topics.py)."""
    uninstalled: Callable[[InboxEventData], Awaitable[None]] = partial(handle_app_uninstalled, clients)
    return {
        "onboarding.uninstall": uninstalled,
        "onboarding.customer_data_request": handle_customer_data_request,
        "onboarding.customer_redact": handle_customer_redact,
        "onboarding.shop_redact": handle_shop_redact,
    }
