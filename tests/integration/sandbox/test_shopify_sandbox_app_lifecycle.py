"""What the app does after OAuth, with the product's exact queries: shop facts, granted
scopes, webhook registration; then uninstall and the compliance webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from shopify_oauth_support import APP_URL, install, refresh
from shopify_sandbox_support import MAIN_SHOP, SECRET, AdminApi, WebhookReceiver, eventually, mint_token

from iam.install import SHOP_QUERY
from sync.subscriptions import CREATE_WEBHOOK_MUTATION, WEBHOOKS_QUERY

# The documents are the product's own (iam/install.py, sync/subscriptions.py); the topics are
# those of sync/topics.py that this lifecycle needs.
PRODUCT_TOPICS = [
    "APP_UNINSTALLED",
    "PRODUCTS_CREATE",
    "PRODUCTS_UPDATE",
    "PRODUCTS_DELETE",
    "CUSTOMERS_CREATE",
    "CUSTOMERS_UPDATE",
    "CUSTOMERS_DELETE",
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "FULFILLMENTS_CREATE",
    "FULFILLMENTS_UPDATE",
]
WEBHOOK_URL = f"{APP_URL}/webhooks/shopify"


def signed_by_shopify(raw_body: bytes, header: str) -> bool:
    digest = hmac.new(SECRET.encode(), raw_body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), header)


async def installed_admin(client: httpx.AsyncClient) -> tuple[AdminApi, dict[str, Any]]:
    pair = await install(client)
    return AdminApi(client, MAIN_SHOP, pair["access_token"]), pair


async def register_all(admin: AdminApi) -> None:
    for topic in PRODUCT_TOPICS:
        created = await admin.graphql(CREATE_WEBHOOK_MUTATION, {"topic": topic, "url": WEBHOOK_URL})
        assert "errors" not in created, created
        result = created["data"]["webhookSubscriptionCreate"]
        assert result["userErrors"] == [], (topic, result)
        assert result["webhookSubscription"]["id"].startswith("gid://shopify/WebhookSubscription/")


async def deliveries(client: httpx.AsyncClient, topic: str) -> list[dict[str, Any]]:
    response = await client.get("/_sandbox/webhooks/deliveries", params={"topic": topic})
    attempts: list[dict[str, Any]] = response.json()["attempts"]
    return attempts


async def test_the_products_shop_query_answers_with_its_shape(client: httpx.AsyncClient) -> None:
    admin, _pair = await installed_admin(client)
    body = await admin.graphql(SHOP_QUERY)
    assert "errors" not in body, body
    assert body["data"]["shop"] == {
        "name": "Demo Store",
        "email": body["data"]["shop"]["email"],
        "myshopifyDomain": MAIN_SHOP,
        "plan": {"displayName": "Grow", "shopifyPlus": False, "partnerDevelopment": False},
    }
    assert "@" in body["data"]["shop"]["email"]
    handles = {s["handle"] for s in body["data"]["currentAppInstallation"]["accessScopes"]}
    assert handles == {
        "write_products",
        "write_customers",
        "write_orders",
        "write_fulfillments",
        "read_discounts",
    }


async def test_a_custom_app_token_lists_its_scopes_too(client: httpx.AsyncClient) -> None:
    admin = AdminApi(client, MAIN_SHOP, await mint_token(client, MAIN_SHOP, "read_products,write_orders"))
    body = await admin.graphql(SHOP_QUERY)
    handles = [s["handle"] for s in body["data"]["currentAppInstallation"]["accessScopes"]]
    assert handles == ["read_products", "write_orders"]


async def test_every_topic_the_product_registers_is_accepted_and_listed(client: httpx.AsyncClient) -> None:
    admin, _pair = await installed_admin(client)
    await register_all(admin)
    nodes = (await admin.graphql(WEBHOOKS_QUERY))["data"]["webhookSubscriptions"]["nodes"]
    assert sorted(n["topic"] for n in nodes) == sorted(PRODUCT_TOPICS)
    assert all(
        n["endpoint"] == {"__typename": "WebhookHttpEndpoint", "callbackUrl": WEBHOOK_URL} for n in nodes
    )
    # Registering again is refused per topic, which is why the product lists first.
    again = await admin.graphql(CREATE_WEBHOOK_MUTATION, {"topic": "ORDERS_CREATE", "url": WEBHOOK_URL})
    assert again["data"]["webhookSubscriptionCreate"]["userErrors"][0]["message"] == (
        "Address for this topic has already been taken"
    )


async def test_uninstall_revokes_tokens_and_sends_app_uninstalled(
    client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    admin, pair = await installed_admin(client)
    await register_all(admin)
    response = await client.post(f"/_sandbox/shops/{MAIN_SHOP}/uninstall")
    assert response.status_code == 200
    assert response.json()["revokedTokens"] == 1
    assert len(response.json()["webhookIds"]) == 1

    await eventually(lambda: len(receiver.received) == 1)
    delivery = receiver.received[0]
    assert delivery.headers["x-shopify-topic"] == "app/uninstalled"
    assert delivery.headers["x-shopify-shop-domain"] == MAIN_SHOP
    assert signed_by_shopify(delivery.body, delivery.headers["x-shopify-hmac-sha256"])
    payload = json.loads(delivery.body)
    assert payload["myshopify_domain"] == MAIN_SHOP
    assert payload["name"] == "Demo Store"

    assert (await admin.post("{ shop { name } }")).status_code == 401
    assert (await refresh(client, pair["refresh_token"])).json()["error"] == "invalid_grant"
    # Shopify deletes the app's subscriptions with the installation.
    fresh = AdminApi(client, MAIN_SHOP, await mint_token(client, MAIN_SHOP))
    assert (await fresh.graphql(WEBHOOKS_QUERY))["data"]["webhookSubscriptions"]["nodes"] == []


async def test_shop_redact_goes_to_the_apps_compliance_url(
    client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    response = await client.post(f"/_sandbox/shops/{MAIN_SHOP}/redact")
    assert response.status_code == 202
    assert response.json()["callbackUrl"] == WEBHOOK_URL
    await eventually(lambda: len(receiver.received) == 1)
    delivery = receiver.received[0]
    assert delivery.headers["x-shopify-topic"] == "shop/redact"
    assert signed_by_shopify(delivery.body, delivery.headers["x-shopify-hmac-sha256"])
    payload = json.loads(delivery.body)
    assert payload["shop_domain"] == MAIN_SHOP
    assert isinstance(payload["shop_id"], int)
    assert [a["url"] for a in await deliveries(client, "shop/redact")] == [WEBHOOK_URL]


@pytest.mark.parametrize(
    ("path", "topic", "keys"),
    [
        ("customers/redact", "customers/redact", {"shop_id", "shop_domain", "customer", "orders_to_redact"}),
        (
            "customers/data_request",
            "customers/data_request",
            {"shop_id", "shop_domain", "customer", "orders_requested", "data_request"},
        ),
    ],
)
async def test_customer_compliance_requests_go_to_the_compliance_url(
    client: httpx.AsyncClient, receiver: WebhookReceiver, path: str, topic: str, keys: set[str]
) -> None:
    customer = {"id": 42, "email": "ada@example.com", "phone": None}
    response = await client.post(
        f"/_sandbox/shops/{MAIN_SHOP}/{path}", json={"customer": customer, "orders": [7, 8]}
    )
    assert response.status_code == 202, response.text
    await eventually(lambda: len(receiver.received) == 1)
    delivery = receiver.received[0]
    assert delivery.headers["x-shopify-topic"] == topic
    payload = json.loads(delivery.body)
    assert set(payload) == keys
    assert payload["customer"] == customer
    assert [7, 8] in payload.values()
    assert [a["url"] for a in await deliveries(client, topic)] == [WEBHOOK_URL]


async def test_triggering_a_compliance_topic_without_url_uses_the_compliance_url(
    client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    response = await client.post(
        "/_sandbox/webhooks/trigger",
        json={"shop": MAIN_SHOP, "topic": "shop/redact", "payload": {"shop_id": 1, "shop_domain": MAIN_SHOP}},
    )
    assert len(response.json()["webhookIds"]) == 1
    await eventually(lambda: len(receiver.received) == 1)
    assert [a["url"] for a in await deliveries(client, "shop/redact")] == [WEBHOOK_URL]
