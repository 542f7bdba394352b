"""Webhook subscriptions and delivery: signed, retried, duplicated and reordered on request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx

from sandbox.shopify import ShopifySandboxConfig, create_shopify_sandbox
from sandbox.tests.integration.shopify.shopify_sandbox_support import (
    API_VERSION,
    MAIN_SHOP,
    RECEIVER_URL,
    SECRET,
    AdminApi,
    WebhookReceiver,
    asgi_client,
    eventually,
    mint_token,
    running,
)

CALLBACK = f"{RECEIVER_URL}/webhooks/shopify"

SUBSCRIBE = """mutation($topic: WebhookSubscriptionTopic!, $url: URL!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {callbackUrl: $url, format: JSON}) {
    webhookSubscription { id topic uri format apiVersion { handle } }
    userErrors { field message }
  }
}"""


def shopify_hmac_ok(raw_body: bytes, header: str) -> bool:
    """Verification exactly as Shopify documents it, independent of the sandbox's code."""
    digest = hmac.new(SECRET.encode(), raw_body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), header)


async def subscribe(admin: AdminApi, topic: str = "PRODUCTS_UPDATE", url: str = CALLBACK) -> dict[str, Any]:
    body = await admin.graphql(SUBSCRIBE, {"topic": topic, "url": url})
    result: dict[str, Any] = body["data"]["webhookSubscriptionCreate"]
    return result


async def first_product(admin: AdminApi) -> int:
    body = await admin.graphql("{ products(first: 1) { nodes { legacyResourceId } } }")
    return int(body["data"]["products"]["nodes"][0]["legacyResourceId"])


async def edit_title(client: httpx.AsyncClient, product_id: int, title: str) -> None:
    response = await client.patch(f"/_sandbox/shops/{MAIN_SHOP}/products/{product_id}", json={"title": title})
    assert response.status_code == 200, response.text


async def deliveries(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/_sandbox/webhooks/deliveries", params=params)
    attempts: list[dict[str, Any]] = response.json()["attempts"]
    return attempts


async def test_subscription_is_created_and_listed(admin: AdminApi) -> None:
    created = await subscribe(admin)
    assert created["userErrors"] == []
    subscription = created["webhookSubscription"]
    assert subscription["topic"] == "PRODUCTS_UPDATE"
    assert subscription["uri"] == CALLBACK
    assert subscription["apiVersion"] == {"handle": API_VERSION}
    listed = await admin.graphql("{ webhookSubscriptions(first: 10) { nodes { id topic } } }")
    assert listed["data"]["webhookSubscriptions"]["nodes"] == [
        {"id": subscription["id"], "topic": "PRODUCTS_UPDATE"}
    ]


async def test_the_same_address_twice_is_a_user_error(admin: AdminApi) -> None:
    await subscribe(admin)
    again = await subscribe(admin)
    assert again["webhookSubscription"] is None
    assert again["userErrors"] == [
        {
            "field": ["webhookSubscription", "callbackUrl"],
            "message": "Address for this topic has already been taken",
        }
    ]


async def test_subscription_delete(admin: AdminApi) -> None:
    subscription_id = (await subscribe(admin))["webhookSubscription"]["id"]
    query = (
        "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) "
        "{ deletedWebhookSubscriptionId userErrors { message } } }"
    )
    deleted = await admin.graphql(query, {"id": subscription_id})
    assert deleted["data"]["webhookSubscriptionDelete"] == {
        "deletedWebhookSubscriptionId": subscription_id,
        "userErrors": [],
    }
    missing = await admin.graphql(query, {"id": subscription_id})
    assert missing["data"]["webhookSubscriptionDelete"]["userErrors"] == [
        {"message": "Webhook subscription does not exist"}
    ]


async def test_merchant_edit_delivers_a_signed_products_update(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin)
    product_id = await first_product(admin)
    await edit_title(client, product_id, "Merchant's new title")
    await eventually(lambda: len(receiver.received) == 1)

    delivery = receiver.received[0]
    headers = delivery.headers
    assert shopify_hmac_ok(delivery.body, headers["x-shopify-hmac-sha256"])
    assert headers["x-shopify-topic"] == "products/update"
    assert headers["x-shopify-shop-domain"] == MAIN_SHOP
    assert headers["x-shopify-api-version"] == API_VERSION
    assert headers["content-type"] == "application/json"
    assert headers["x-shopify-webhook-id"]
    assert headers["x-shopify-event-id"]
    assert headers["x-shopify-triggered-at"]
    payload = json.loads(delivery.body)
    assert payload["id"] == product_id
    assert payload["admin_graphql_api_id"] == f"gid://shopify/Product/{product_id}"
    assert payload["title"] == "Merchant's new title"
    variant = payload["variants"][0]
    assert {"id", "sku", "price", "inventory_quantity", "updated_at"} <= variant.keys()
    assert isinstance(variant["id"], int)
    assert isinstance(variant["price"], str)
    # Weights left the REST variant in 2024-07 (they are the inventory item's): Shopify's
    # documented products/update has none.
    assert {"grams", "weight", "weight_unit"}.isdisjoint(variant)


async def test_a_merchants_new_collection_delivers_collections_create_without_members(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin, "COLLECTIONS_CREATE")
    product_id = await first_product(admin)
    added = await client.post(
        f"/_sandbox/shops/{MAIN_SHOP}/collections", json={"title": "Summer", "productIds": [product_id]}
    )
    assert added.status_code == 201, added.text
    assert added.json()["productIds"] == [product_id]
    await eventually(lambda: len(receiver.received) == 1)

    delivery = receiver.received[0]
    assert delivery.headers["x-shopify-topic"] == "collections/create"
    payload = json.loads(delivery.body)
    assert (payload["title"], payload["handle"]) == ("Summer", "summer")
    assert payload["admin_graphql_api_id"] == f"gid://shopify/Collection/{payload['id']}"
    assert not {"products", "productIds"} & payload.keys()
    body = await admin.graphql(
        "query($id: ID!) { product(id: $id) { collections(first: 25) { nodes { title } } } }",
        {"id": f"gid://shopify/Product/{product_id}"},
    )
    assert "Summer" in [c["title"] for c in body["data"]["product"]["collections"]["nodes"]]


async def test_a_collection_needs_a_title_and_known_products(client: httpx.AsyncClient) -> None:
    blank = await client.post(f"/_sandbox/shops/{MAIN_SHOP}/collections", json={"title": " "})
    assert blank.status_code == 422
    assert blank.json()["userErrors"] == [{"field": ["title"], "message": "Title can't be blank"}]
    unknown = await client.post(
        f"/_sandbox/shops/{MAIN_SHOP}/collections", json={"title": "Tees", "productIds": [1]}
    )
    assert unknown.status_code == 404


async def test_api_mutation_delivers_products_create_and_delete(
    admin: AdminApi, receiver: WebhookReceiver
) -> None:
    await subscribe(admin, "PRODUCTS_CREATE")
    await subscribe(admin, "PRODUCTS_DELETE")
    created = await admin.graphql('mutation { productCreate(product: {title: "Hooked"}) { product { id } } }')
    product_gid = created["data"]["productCreate"]["product"]["id"]
    await admin.graphql(
        "mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId } }", {"id": product_gid}
    )
    await eventually(lambda: len(receiver.received) == 2)
    by_topic = {r.headers["x-shopify-topic"]: json.loads(r.body) for r in receiver.received}
    numeric_id = int(product_gid.rsplit("/", 1)[1])
    assert by_topic["products/create"]["title"] == "Hooked"
    assert by_topic["products/delete"] == {"id": numeric_id}


async def test_webhook_ids_are_per_delivery_and_event_ids_per_event(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin, url=f"{RECEIVER_URL}/one")
    await subscribe(admin, url=f"{RECEIVER_URL}/two")
    product_id = await first_product(admin)
    await edit_title(client, product_id, "Edit A")
    await eventually(lambda: len(receiver.received) == 2)
    await edit_title(client, product_id, "Edit B")
    await eventually(lambda: len(receiver.received) == 4)
    first_event, second_event = receiver.received[:2], receiver.received[2:]
    for pair in (first_event, second_event):
        # One event, two subscriptions: same event id, distinct webhook ids.
        assert pair[0].headers["x-shopify-event-id"] == pair[1].headers["x-shopify-event-id"]
        assert pair[0].headers["x-shopify-webhook-id"] != pair[1].headers["x-shopify-webhook-id"]
    assert first_event[0].headers["x-shopify-event-id"] != second_event[0].headers["x-shopify-event-id"]
    webhook_ids = {r.headers["x-shopify-webhook-id"] for r in receiver.received}
    assert len(webhook_ids) == 4


async def test_a_failed_delivery_is_retried_with_the_same_webhook_id(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin)
    receiver.script = [500]
    await edit_title(client, await first_product(admin), "Retry me")
    await eventually(lambda: len(receiver.received) == 2)

    first, second = receiver.received
    assert first.headers["x-shopify-webhook-id"] == second.headers["x-shopify-webhook-id"]
    assert first.body == second.body
    attempts = await deliveries(client, webhook_id=first.headers["x-shopify-webhook-id"])
    assert [(a["attempt"], a["status_code"], a["success"], a["final"]) for a in attempts] == [
        (1, 500, False, False),
        (2, 200, True, True),
    ]
    assert attempts[0]["error"] == "HTTP 500"
    assert all(a["duration_ms"] >= 0 for a in attempts)


async def test_a_delivery_slower_than_the_timeout_is_retried(
    make_config: Callable[..., ShopifySandboxConfig], receiver: WebhookReceiver
) -> None:
    app = create_shopify_sandbox(make_config(webhook_timeout=0.2))
    async with running(app), asgi_client(app) as client:
        admin = AdminApi(client, MAIN_SHOP, await mint_token(client, MAIN_SHOP))
        await subscribe(admin)
        receiver.script = [0]  # the first answer never comes
        await edit_title(client, await first_product(admin), "Slow")

        async def two_attempts() -> bool:
            return len(await deliveries(client)) == 2

        await eventually(two_attempts)
        attempts = await deliveries(client)
        assert attempts[0]["success"] is False
        assert attempts[0]["error"].startswith("timed out after 0.2 s")
        assert attempts[0]["duration_ms"] >= 200
        assert attempts[1]["success"] is True
        receiver.release.set()


async def test_subscription_is_removed_after_every_attempt_failed(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin)
    receiver.script = [503] * 8
    await edit_title(client, await first_product(admin), "Doomed")

    async def gone() -> bool:
        listed = await admin.graphql("{ webhookSubscriptions(first: 5) { nodes { id } } }")
        return not listed["data"]["webhookSubscriptions"]["nodes"]

    await eventually(gone)
    attempts = await deliveries(client)
    assert [a["attempt"] for a in attempts] == list(range(1, 9))
    assert attempts[-1]["final"] is True


async def test_duplicate_fault_delivers_the_same_webhook_twice(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin)
    fault = await client.post("/_sandbox/faults", json={"kind": "webhook_duplicate", "shop": MAIN_SHOP})
    assert fault.status_code == 201
    await edit_title(client, await first_product(admin), "Twice")
    await eventually(lambda: len(receiver.received) == 2)
    ids = {r.headers["x-shopify-webhook-id"] for r in receiver.received}
    assert len(ids) == 1
    assert receiver.received[0].body == receiver.received[1].body


async def test_out_of_order_fault_delivers_a_later_event_first(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin)
    await client.post(
        "/_sandbox/faults", json={"kind": "webhook_out_of_order", "shop": MAIN_SHOP, "count": 2}
    )
    product_id = await first_product(admin)
    await edit_title(client, product_id, "First edit")
    await edit_title(client, product_id, "Second edit")
    await eventually(lambda: len(receiver.received) == 2)
    titles = [json.loads(r.body)["title"] for r in receiver.received]
    assert titles == ["Second edit", "First edit"]


async def test_triggered_webhook_goes_to_a_given_url(
    client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    payload = {"shop_id": 1, "shop_domain": MAIN_SHOP, "customer": {"id": 7}}
    response = await client.post(
        "/_sandbox/webhooks/trigger",
        json={"shop": MAIN_SHOP, "topic": "customers/redact", "payload": payload, "callbackUrl": CALLBACK},
    )
    assert response.status_code == 202
    webhook_id = response.json()["webhookIds"][0]
    await eventually(lambda: len(receiver.received) == 1)
    delivery = receiver.received[0]
    assert delivery.headers["x-shopify-webhook-id"] == webhook_id
    assert delivery.headers["x-shopify-topic"] == "customers/redact"
    assert json.loads(delivery.body) == payload
    assert shopify_hmac_ok(delivery.body, delivery.headers["x-shopify-hmac-sha256"])


async def test_triggered_webhook_goes_to_matching_subscriptions(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin, "ORDERS_CREATE")
    response = await client.post(
        "/_sandbox/webhooks/trigger",
        json={"shop": MAIN_SHOP, "topic": "orders/create", "payload": {"id": 1001}},
    )
    assert len(response.json()["webhookIds"]) == 1
    await eventually(lambda: len(receiver.received) == 1)
    assert receiver.received[0].headers["x-shopify-topic"] == "orders/create"
