"""Subscribing to both sources' webhooks, for every topic of the registry (sync/topics.py)
delivered through a subscription, and keeping Shopify's subscribed (self-heal).

Started once a shop is installed (Shopify) and once its CRM account exists (the CRM), by
the hooks onboarding wires into iam; each registration is a job, idempotent and retried.

Shopify's topics are also app-specific subscriptions in shopify.app.toml (Shopify keeps those);
the shop-specific ones made here are what `webhookSubscriptions` can list, so what the app can
see missing and re-create. An event delivered to both arrives twice under different
`X-Shopify-Webhook-Id`s and one `X-Shopify-Event-Id`, by which the intake takes it once.
Shopify removes a
subscription whose deliveries keep failing; `check_webhooks` (every hour, for every installed
shop) compares the shop's subscriptions with the registry, re-creates what is missing and queues
a reconciliation (and a catalogue import) over the gap, recorded in `WebhookCheck` for
connection health.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog

from connectors.errors import ExternalServiceError, RateLimited
from connectors.shopify import ShopifyAdmin, UserErrors
from iam.clients import ShopClients
from iam.tables import AccountStatus, AccountSystem, ExternalAccount, Shop
from iam.tokens import ShopNotConnected
from jobqueue.jobs import JobContext, RetryLater, enqueue, schedule_once
from lib.clock import utcnow
from sync.tables import WebhookCheck
from sync.topics import CRM_WEBHOOK_TOPICS, JOB_IMPORT_CATALOG, JOB_RECONCILE, SHOPIFY_WEBHOOK_TOPICS

log = structlog.get_logger("funnelsync.subscriptions")

# Job kinds keep the names they were stored under.
JOB_REGISTER_WEBHOOKS = "iam.register_webhooks"
JOB_REGISTER_CRM_WEBHOOKS = "iam.register_crm_webhooks"
FIRST_RECONCILIATION_DELAY = timedelta(hours=1)
JOB_CHECK_WEBHOOKS = "sync.check_webhooks"  # one shop
JOB_CHECK_ALL_WEBHOOKS = "sync.check_all_webhooks"  # queues the above for every installed shop
# Shopify retries a failing delivery for 4 hours before it removes the subscription: an hourly
# check re-creates it well within a day's gap.
WEBHOOK_CHECK_INTERVAL = timedelta(hours=1)

WEBHOOKS_QUERY = """
query ExistingWebhooks {
  webhookSubscriptions(first: 100) {
    nodes { id topic endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } }
  }
}
"""
CREATE_WEBHOOK_MUTATION = """
mutation CreateWebhook($topic: WebhookSubscriptionTopic!, $url: URL!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {callbackUrl: $url, format: JSON}) {
    webhookSubscription { id }
    userErrors { field message }
  }
}
"""


async def start_shopify_sync(shop_domain: str) -> None:
    """On install: subscribe to the shop's webhooks (kept subscribed by `check_all_webhooks`)."""
    await enqueue(JOB_REGISTER_WEBHOOKS, {}, shop_domain=shop_domain, ordering_key=f"webhooks:{shop_domain}")


async def start_crm_sync(shop_domain: str) -> None:
    """Once the CRM account exists: its webhooks, the initial catalog import into the CRM
    (seeds/003), then the first reconciliation."""
    await enqueue(
        JOB_REGISTER_CRM_WEBHOOKS, {}, shop_domain=shop_domain, ordering_key=f"crm-webhooks:{shop_domain}"
    )
    await schedule_once(JOB_IMPORT_CATALOG, shop_domain)
    await schedule_once(JOB_RECONCILE, shop_domain, delay=FIRST_RECONCILIATION_DELAY)


async def subscribed_topics(shopify: ShopifyAdmin, callback: str) -> set[str]:
    """The registry's topics the shop has a subscription for, delivered to our intake."""
    existing = await shopify.graphql(WEBHOOKS_QUERY)
    return {
        node["topic"]
        for node in existing.data["webhookSubscriptions"]["nodes"]
        if (node.get("endpoint") or {}).get("callbackUrl") == callback
    }


async def subscribe_missing(shopify: ShopifyAdmin, callback: str) -> list[str]:
    """Creates a subscription for every registry topic the shop lacks; returns those topics."""
    have = await subscribed_topics(shopify, callback)
    missing = [topic for topic in SHOPIFY_WEBHOOK_TOPICS if topic not in have]
    for topic in missing:
        try:
            await shopify.mutate(
                CREATE_WEBHOOK_MUTATION, {"topic": topic, "url": callback}, "webhookSubscriptionCreate"
            )
        except UserErrors as refused:
            # The job's last error names the topic Shopify refused.
            raise ExternalServiceError("Shopify", f"webhook {topic}: {refused.messages[0]}") from refused
    return missing


async def register_webhooks(clients: ShopClients, job: JobContext) -> None:
    shop_domain = str(job.shop_domain)
    shopify = await clients.shopify_for(shop_domain)
    try:
        await subscribe_missing(shopify, f"{clients.iam.app_base_url}/webhooks/shopify")
    except RateLimited as exc:
        raise RetryLater(exc.retry_after_seconds, str(exc)) from exc
    await _record_check(shop_domain, missing=[], now=utcnow())


async def check_all_webhooks(job: JobContext, *, interval: timedelta = WEBHOOK_CHECK_INTERVAL) -> None:
    """Periodic: a check of its subscriptions for every installed shop, then the next round."""
    shops = await Shop.select(Shop.domain).where(
        Shop.uninstalled_at.is_null() & Shop.access_token.is_not_null()
    )
    for shop in shops:
        await schedule_once(JOB_CHECK_WEBHOOKS, shop["domain"])
    await schedule_once(JOB_CHECK_ALL_WEBHOOKS, None, delay=interval)


async def check_webhooks(clients: ShopClients, job: JobContext) -> None:
    """Self-heal: re-creates the subscriptions Shopify no longer holds and reconciles the gap."""
    shop_domain = str(job.shop_domain)
    try:
        shopify = await clients.shopify_for(shop_domain)
        missing = await subscribe_missing(shopify, f"{clients.iam.app_base_url}/webhooks/shopify")
    except RateLimited as exc:
        raise RetryLater(exc.retry_after_seconds, str(exc)) from exc
    except ShopNotConnected:
        # No token to check with: retrying cannot help (connection health and the merchant's
        # alert say so); the next round checks again once the merchant gave access back.
        await _record_error(shop_domain, "Shopify access expired: the subscriptions could not be checked")
        return
    except ExternalServiceError as exc:
        await _record_error(shop_domain, str(exc))
        raise
    now = utcnow()
    await _record_check(shop_domain, missing=missing, now=now)
    if missing:
        log.warning("webhook_subscriptions_recreated", shop=shop_domain, topics=missing)
        if await _crm_account_ready(shop_domain):
            # Events of the gap are lost: reconciliation repairs what drifted on linked entities,
            # the catalogue import brings products created meanwhile.
            await schedule_once(JOB_RECONCILE, shop_domain)
            await schedule_once(JOB_IMPORT_CATALOG, shop_domain)


async def _record_error(shop_domain: str, error: str) -> None:
    await WebhookCheck.update({WebhookCheck.checked_at: utcnow(), WebhookCheck.error: error}).where(
        WebhookCheck.shop_domain == shop_domain
    )


async def _crm_account_ready(shop_domain: str) -> bool:
    row = (
        await ExternalAccount.select(ExternalAccount.status)
        .where((ExternalAccount.shop.domain == shop_domain) & (ExternalAccount.system == AccountSystem.CRM))
        .first()
    )
    return row is not None and row["status"] == AccountStatus.READY


async def _record_check(shop_domain: str, *, missing: list[str], now: datetime) -> None:
    previous = await WebhookCheck.select().where(WebhookCheck.shop_domain == shop_domain).first()
    values: dict[str, Any] = {"checked_at": now, "missing": missing, "error": None}
    if missing:
        values |= {
            "healed_at": now,
            "healed": missing,
            "gap_since": previous["complete_at"] if previous else None,
        }
    else:
        values["complete_at"] = now
    if previous is None:
        await WebhookCheck.insert(
            WebhookCheck({getattr(WebhookCheck, k): v for k, v in values.items()}, shop_domain=shop_domain)
        )
    else:
        await WebhookCheck.update({getattr(WebhookCheck, k): v for k, v in values.items()}).where(
            WebhookCheck.shop_domain == shop_domain
        )


async def register_crm_webhooks(clients: ShopClients, job: JobContext) -> None:
    shop_domain = str(job.shop_domain)
    crm = await clients.crm_for(shop_domain)
    await crm.subscribe_webhooks(f"{clients.iam.app_base_url}/webhooks/crm", CRM_WEBHOOK_TOPICS)
    log.info("crm_webhooks_registered", shop=shop_domain)
