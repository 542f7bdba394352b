"""Helpers for the customers, orders, fulfillments and bulk-operation tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx

from sync.subscriptions import CREATE_WEBHOOK_MUTATION
from tests.integration.sandbox.shopify_sandbox_support import (
    MAIN_SHOP,
    RECEIVER_URL,
    SECRET,
    AdminApi,
    Received,
    WebhookReceiver,
    eventually,
)

CALLBACK = f"{RECEIVER_URL}/webhooks/shopify"
SHOP_URL = f"/_sandbox/shops/{MAIN_SHOP}"


def hmac_ok(raw_body: bytes, header: str) -> bool:
    """Shopify's documented webhook check, written from the docs."""
    digest = hmac.new(SECRET.encode(), raw_body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), header)


async def subscribe(admin: AdminApi, *topics: str) -> None:
    for topic in topics:
        body = await admin.graphql(CREATE_WEBHOOK_MUTATION, {"topic": topic, "url": CALLBACK})
        assert body["data"]["webhookSubscriptionCreate"]["userErrors"] == [], body


def topics_of(receiver: WebhookReceiver) -> list[str]:
    return [r.headers["x-shopify-topic"] for r in receiver.received]


def received(receiver: WebhookReceiver, topic: str) -> list[dict[str, Any]]:
    """Payloads of `topic` delivered so far, each checked for a valid signature first."""
    payloads = []
    for delivery in receiver.received:
        if delivery.headers["x-shopify-topic"] == topic:
            assert hmac_ok(delivery.body, delivery.headers["x-shopify-hmac-sha256"])
            payloads.append(json.loads(delivery.body))
    return payloads


async def wait_for(receiver: WebhookReceiver, topic: str, count: int = 1) -> list[dict[str, Any]]:
    await eventually(lambda: len([r for r in receiver.received if _topic(r) == topic]) >= count)
    return received(receiver, topic)


def _topic(delivery: Received) -> str:
    return delivery.headers["x-shopify-topic"]


async def deliveries(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/_sandbox/webhooks/deliveries", params=params)
    attempts: list[dict[str, Any]] = response.json()["attempts"]
    return attempts


async def settled(client: httpx.AsyncClient) -> None:
    """Every queued webhook has been attempted."""

    async def done() -> bool:
        body = (await client.get("/_sandbox/webhooks/deliveries")).json()
        return bool(body["pending"] == 0 and body["held"] == 0)

    await eventually(done)


async def writes(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(f"{SHOP_URL}/writes")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def variant_ids(admin: AdminApi, count: int = 2) -> list[str]:
    body = await admin.graphql(
        "query($n: Int!) { productVariants(first: $n) { nodes { id } } }", {"n": count}
    )
    return [node["id"] for node in body["data"]["productVariants"]["nodes"]]


def numeric(global_id: str) -> int:
    return int(global_id.rsplit("/", 1)[1].split("?")[0])
