"""The sandbox's webhook deliveries, judged by Shopify's official package (`verify_webhook_req`)."""

from __future__ import annotations

import httpx
from shopify_app import ShopifyApp
from shopify_app.types import RequestInput

from sandbox.tests.integration.shopify.shopify_sandbox_support import (
    MAIN_SHOP,
    RECEIVER_URL,
    SECRET,
    AdminApi,
    Received,
    WebhookReceiver,
    eventually,
)

CALLBACK = f"{RECEIVER_URL}/webhooks/shopify"
SUBSCRIBE = """mutation($url: URL!) {
  webhookSubscriptionCreate(topic: PRODUCTS_UPDATE, webhookSubscription: {callbackUrl: $url, format: JSON}) {
    userErrors { message }
  }
}"""


def as_package_request(delivery: Received, body: bytes | None = None) -> RequestInput:
    """The delivery as the app's webhook route hands it to the package: raw and whole."""
    return {
        "method": "POST",
        "headers": delivery.headers,
        "url": CALLBACK,
        "body": (delivery.body if body is None else body).decode(),
    }


async def a_product_update(admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver) -> Received:
    assert (await admin.graphql(SUBSCRIBE, {"url": CALLBACK}))["data"]["webhookSubscriptionCreate"][
        "userErrors"
    ] == []
    first = await admin.graphql("{ products(first: 1) { nodes { legacyResourceId } } }")
    product_id = first["data"]["products"]["nodes"][0]["legacyResourceId"]
    edit = await client.patch(f"/_sandbox/shops/{MAIN_SHOP}/products/{product_id}", json={"title": "Café ☕"})
    assert edit.status_code == 200, edit.text
    await eventually(lambda: len(receiver.received) == 1)
    return receiver.received[0]


async def test_the_package_verifies_a_delivery_of_a_merchant_edit(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    delivery = await a_product_update(admin, client, receiver)
    result = ShopifyApp(client_id="dev-shopify-key", client_secret=SECRET).verify_webhook_req(
        as_package_request(delivery)
    )
    assert (result.ok, result.shop, result.log.code) == (True, "demo-store", "verified")


async def test_the_package_verifies_during_a_secret_rotation_and_refuses_a_tampered_body(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    delivery = await a_product_update(admin, client, receiver)
    rotating = ShopifyApp(client_id="dev-shopify-key", client_secret="shpss_new", old_client_secret=SECRET)
    assert rotating.verify_webhook_req(as_package_request(delivery)).ok

    tampered = rotating.verify_webhook_req(
        as_package_request(delivery, delivery.body.replace(b"Caf", b"Cof"))
    )
    assert (tampered.ok, tampered.log.code, tampered.response.status) == (False, "invalid_hmac", 401)


async def test_the_package_verifies_a_compliance_delivery(
    client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    response = await client.post(f"/_sandbox/shops/{MAIN_SHOP}/redact")
    assert response.status_code == 202, response.text
    await eventually(lambda: len(receiver.received) == 1)
    result = ShopifyApp(client_id="dev-shopify-key", client_secret=SECRET).verify_webhook_req(
        as_package_request(receiver.received[0])
    )
    assert (result.ok, result.shop) == (True, "demo-store")
