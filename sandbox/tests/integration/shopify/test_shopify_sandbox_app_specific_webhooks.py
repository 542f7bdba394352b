"""App-specific subscriptions (shopify.app.toml) beside shop-specific ones, as Shopify documents:
each subscription of a topic gets its own delivery of an event (its own X-Shopify-Webhook-Id,
the event's one X-Shopify-Event-Id), and `webhookSubscriptions` lists only the shop's own."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.shopify import ShopifySandboxConfig, create_shopify_sandbox
from sandbox.shopify.app import sandbox_of
from sandbox.tests.integration.shopify.shopify_sandbox_support import (
    MAIN_SHOP,
    AdminApi,
    WebhookReceiver,
    asgi_client,
    eventually,
    mint_token,
    running,
)
from sandbox.tests.integration.shopify.test_shopify_sandbox_webhooks import (
    edit_title,
    first_product,
    subscribe,
)


async def test_a_topic_in_the_toml_and_subscribed_per_shop_is_delivered_twice_as_one_event(
    make_config: Callable[..., ShopifySandboxConfig], receiver: WebhookReceiver
) -> None:
    app = create_shopify_sandbox(make_config(app_webhook_topics=("products/update",)))
    async with running(app), asgi_client(app) as client:
        admin = AdminApi(client, MAIN_SHOP, await mint_token(client, MAIN_SHOP))
        await subscribe(admin, url="http://app.test/webhooks/shopify")
        listed = await admin.graphql("{ webhookSubscriptions(first: 10) { nodes { topic } } }")
        assert listed["data"]["webhookSubscriptions"]["nodes"] == [{"topic": "PRODUCTS_UPDATE"}]

        await edit_title(client, await first_product(admin), "Edited once")
        await eventually(lambda: len(receiver.received) == 2)

    headers = [delivery.headers for delivery in receiver.received]
    assert {h["x-shopify-topic"] for h in headers} == {"products/update"}
    assert len({h["x-shopify-webhook-id"] for h in headers}) == 2
    assert len({h["x-shopify-event-id"] for h in headers}) == 1
    assert receiver.received[0].body == receiver.received[1].body


async def test_app_specific_topics_reach_only_shops_the_app_is_installed_on(
    make_config: Callable[..., ShopifySandboxConfig], receiver: WebhookReceiver
) -> None:
    app = create_shopify_sandbox(make_config(app_webhook_topics=("products/update",)))
    async with running(app), asgi_client(app) as sandbox:
        admin = AdminApi(sandbox, MAIN_SHOP, await mint_token(sandbox, MAIN_SHOP))
        product = await first_product(admin)
        await edit_title(sandbox, product, "Installed: delivered")
        await eventually(lambda: len(receiver.received) == 1)
        assert (await sandbox.post(f"/_sandbox/shops/{MAIN_SHOP}/uninstall")).status_code < 300
        await edit_title(sandbox, product, "Uninstalled: not delivered")
        # Nothing was queued for the edit: an app no longer installed gets no app-specific delivery.
        assert sandbox_of(app).dispatcher.pending_count() == 0
    assert len(receiver.received) == 1
