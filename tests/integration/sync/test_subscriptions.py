"""Webhook self-heal: a subscription Shopify no longer holds is re-created by the periodic check,
and the change made while it was gone reaches the CRM through the reconciliation it queues."""

from __future__ import annotations

import json
from datetime import timedelta

from iam.tables import Shop
from jobqueue.jobs import schedule_once
from jobqueue.tables import Job
from lib.clock import utcnow
from sync.subscriptions import (
    JOB_CHECK_ALL_WEBHOOKS,
    JOB_CHECK_WEBHOOKS,
    WEBHOOKS_QUERY,
)
from sync.tables import WebhookCheck
from sync.topics import JOB_RECONCILE, SHOPIFY_WEBHOOK_TOPICS
from tests.support.live_funnel import T_SHIRT_PRODUCT, T_SHIRT_VARIANT, crm_product, settle
from tests.support.shops import SHOP, clients_of
from tests.support.stack import Stack

DELETE_WEBHOOK = """
mutation DeleteWebhook($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}
"""


async def subscriptions(stack: Stack) -> dict[str, str]:
    shopify = await clients_of(stack.app).shopify_for(SHOP)
    result = await shopify.graphql(WEBHOOKS_QUERY)
    return {str(node["topic"]): str(node["id"]) for node in result.data["webhookSubscriptions"]["nodes"]}


async def delete_subscription(stack: Stack, topic: str) -> None:
    shopify = await clients_of(stack.app).shopify_for(SHOP)
    gid = (await subscriptions(stack))[topic]
    await shopify.mutate(DELETE_WEBHOOK, {"id": gid}, "webhookSubscriptionDelete")


async def test_a_deleted_subscription_is_recreated_and_the_gap_reconciled(stack: Stack) -> None:
    await delete_subscription(stack, "PRODUCTS_UPDATE")
    # While it is gone, the merchant changes the funnel's product: no webhook tells the app.
    edited = await stack.shopify.put(
        f"/_sandbox/shops/{SHOP}/products/{T_SHIRT_PRODUCT}/variants/{T_SHIRT_VARIANT}",
        json={"price": "23.50"},
    )
    assert edited.status_code == 200, edited.text
    await settle(stack)
    assert (await crm_product(stack))["price"] != "23.50"

    await schedule_once(JOB_CHECK_WEBHOOKS, SHOP)
    await settle(stack)

    assert sorted(await subscriptions(stack)) == sorted(SHOPIFY_WEBHOOK_TOPICS)
    check = await WebhookCheck.select().where(WebhookCheck.shop_domain == SHOP).first()
    assert check is not None
    assert json.loads(check["healed"]) == ["PRODUCTS_UPDATE"]
    assert check["healed_at"] is not None
    assert check["error"] is None
    assert await Job.exists().where((Job.kind == JOB_RECONCILE) & (Job.shop_domain == SHOP))
    assert float((await crm_product(stack))["price"]) == 23.50

    page = await stack.client.get("/app/")
    assert "Re-created products/update" in page.text


async def test_a_check_that_finds_everything_subscribed_changes_nothing(stack: Stack) -> None:
    before = await subscriptions(stack)
    await schedule_once(JOB_CHECK_WEBHOOKS, SHOP)
    await stack.drain()
    assert await subscriptions(stack) == before
    check = await WebhookCheck.select().where(WebhookCheck.shop_domain == SHOP).first()
    assert check is not None
    assert check["healed_at"] is None
    assert json.loads(check["missing"]) == []


async def test_the_periodic_round_checks_every_installed_shop_and_queues_the_next(stack: Stack) -> None:
    await schedule_once(JOB_CHECK_ALL_WEBHOOKS, None)
    await stack.drain()
    assert await Job.exists().where((Job.kind == JOB_CHECK_WEBHOOKS) & (Job.shop_domain == SHOP))
    queued_next = await Job.select(Job.run_at).where(
        (Job.kind == JOB_CHECK_ALL_WEBHOOKS) & (Job.status == "queued")
    )
    assert len(queued_next) == 1


async def test_a_shop_whose_access_expired_is_not_retried_and_says_so(stack: Stack) -> None:
    await Shop.update(
        {
            Shop.access_token_expires_at: utcnow() - timedelta(minutes=1),
            Shop.refresh_token_expires_at: utcnow(),
        },
        force=True,
    )
    await schedule_once(JOB_CHECK_WEBHOOKS, SHOP)
    await stack.drain()
    job = await Job.select(Job.status, Job.attempts).where(Job.kind == JOB_CHECK_WEBHOOKS).first()
    assert job is not None
    assert job["status"] == "done"
    check = await WebhookCheck.select(WebhookCheck.error).where(WebhookCheck.shop_domain == SHOP).first()
    assert check is not None
    assert "Shopify access expired" in check["error"]
