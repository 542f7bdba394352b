"""Subscribing to both sources' webhooks, for every topic of the registry (sync/topics.py)
delivered through a subscription.

Started once a shop is installed (Shopify) and once its CRM account exists (the CRM), by
the hooks onboarding wires into iam; each registration is a job, idempotent and retried.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from connectors.errors import ExternalServiceError, RateLimited
from connectors.shopify import UserErrors
from iam.clients import ShopClients
from jobqueue.jobs import JobContext, RetryLater, enqueue, schedule_once
from sync.topics import CRM_WEBHOOK_TOPICS, JOB_IMPORT_CATALOG, JOB_RECONCILE, SHOPIFY_WEBHOOK_TOPICS

log = structlog.get_logger("funnelsync.subscriptions")

# Job kinds keep the names they were stored under.
JOB_REGISTER_WEBHOOKS = "iam.register_webhooks"
JOB_REGISTER_CRM_WEBHOOKS = "iam.register_crm_webhooks"
FIRST_RECONCILIATION_DELAY = timedelta(hours=1)

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
    """On install: subscribe to the shop's webhooks."""
    await enqueue(JOB_REGISTER_WEBHOOKS, {}, shop_domain=shop_domain, ordering_key=f"webhooks:{shop_domain}")


async def start_crm_sync(shop_domain: str) -> None:
    """Once the CRM account exists: its webhooks, the initial catalog import into the CRM
    (seeds/003), then the first reconciliation."""
    await enqueue(
        JOB_REGISTER_CRM_WEBHOOKS, {}, shop_domain=shop_domain, ordering_key=f"crm-webhooks:{shop_domain}"
    )
    await schedule_once(JOB_IMPORT_CATALOG, shop_domain)
    await schedule_once(JOB_RECONCILE, shop_domain, delay=FIRST_RECONCILIATION_DELAY)


async def register_webhooks(clients: ShopClients, job: JobContext) -> None:
    shop_domain = str(job.shop_domain)
    callback = f"{clients.iam.app_base_url}/webhooks/shopify"
    shopify = await clients.shopify_for(shop_domain)
    try:
        existing = await shopify.graphql(WEBHOOKS_QUERY)
        have = {
            node["topic"]
            for node in existing.data["webhookSubscriptions"]["nodes"]
            if (node.get("endpoint") or {}).get("callbackUrl") == callback
        }
        for topic in SHOPIFY_WEBHOOK_TOPICS:
            if topic in have:
                continue
            try:
                await shopify.mutate(
                    CREATE_WEBHOOK_MUTATION, {"topic": topic, "url": callback}, "webhookSubscriptionCreate"
                )
            except UserErrors as refused:
                # The job's last error names the topic Shopify refused.
                raise ExternalServiceError("Shopify", f"webhook {topic}: {refused.messages[0]}") from refused
    except RateLimited as exc:
        raise RetryLater(exc.retry_after_seconds, str(exc)) from exc


async def register_crm_webhooks(clients: ShopClients, job: JobContext) -> None:
    shop_domain = str(job.shop_domain)
    crm = await clients.crm_for(shop_domain)
    await crm.subscribe_webhooks(f"{clients.iam.app_base_url}/webhooks/crm", CRM_WEBHOOK_TOPICS)
    log.info("crm_webhooks_registered", shop=shop_domain)
