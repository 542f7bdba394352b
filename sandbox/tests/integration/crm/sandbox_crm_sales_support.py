"""Helpers for the CRM sandbox's customer, order and webhook tests: request bodies, a
webhook receiver the sandbox delivers to in-process, and polling with a deadline."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.tests.integration.crm.sandbox_crm_support import CRM_CLIENT, Harness, Merchant

RECEIVER_URL = "http://app.test/webhooks/crm"
ALL_TOPICS = [
    "product.created",
    "product.updated",
    "product.deleted",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "order.created",
    "order.updated",
    "fulfillment.created",
]
# Short waits so retries happen within a test; 4 attempts in all, as the default.
FAST_RETRIES = (0.01, 0.02, 0.03)


def customer_body(n: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "external_id": f"gid://shopify/Customer/{n}",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": f"ada{n}@example.com",
        "phone": f"+1415555{n:04d}",
        "shipping_phone": "+14155559999",
        "accepts_marketing": True,
        "tags": ["vip", "newsletter"],
        "address": {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "address": "1 Main St||Apt 4",
            "city": "San Francisco",
            "region": "CA",
            "postal_code": "94105",
            "country_code": "US",
            "phone": "+14155550000",
        },
        **overrides,
    }


def shipping_address(**overrides: Any) -> dict[str, Any]:
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "address": "1 Main St||Apt 4",
        "city": "San Francisco",
        "region": "CA",
        "postal_code": "94105",
        "country_code": "US",
        "phone": None,
        **overrides,
    }


def order_body(customer_id: str, n: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "external_id": f"gid://shopify/Order/{n}",
        "customer_id": customer_id,
        "currency": "USD",
        "items": [{"product_id": None, "name": "Gift wrap", "sku": "", "quantity": 2, "price": "2.50"}],
        "shipping_address": shipping_address(),
        "operator_comment": "Leave at the door",
        "status": "paid",
        "source": "shopify",
        **overrides,
    }


def product_body(n: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "external_id": f"gid://shopify/ProductVariant/{n}",
        "product_external_id": "gid://shopify/Product/100",
        "sku": f"MUG-{n}",
        "name": "Coffee mug",
        "price": "20.00",
        "currency": "USD",
        **overrides,
    }


async def new_customer(merchant: Merchant, n: int = 1, **overrides: Any) -> dict[str, Any]:
    return await merchant.created("/api/v1/customers", customer_body(n, **overrides))


@dataclass
class Delivered:
    headers: httpx.Headers
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """The app's `/webhooks/crm`, as the sandbox reaches it: answers `statuses` in turn
    (then 200) and keeps what reached it."""

    statuses: list[int] = field(default_factory=list)
    received: list[Delivered] = field(default_factory=list)
    calls: int = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        status = self.statuses.pop(0) if self.statuses else 200
        if 200 <= status < 300:
            self.received.append(Delivered(request.headers, await request.aread()))
        return httpx.Response(status, json={"ok": 200 <= status < 300})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def topics(self) -> list[str]:
        return [d.event["topic"] for d in self.received]


def expected_signature(header: str, body: bytes, secret: str = CRM_CLIENT[1]) -> tuple[int, str, str]:
    """(t, the v1 sent, the v1 recomputed here from the raw body) for an X-CRM-Signature."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return timestamp, parts["v1"], mac


async def eventually(check: Callable[[], bool], *, within: float = 5.0) -> None:
    """Poll `check` until it holds, failing after `within` seconds."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def deliveries(crm: Harness, **params: str) -> dict[str, Any]:
    response = await crm.http.get("/_sandbox/webhooks/deliveries", params=params or None)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def settled(crm: Harness, *, within: float = 5.0) -> dict[str, Any]:
    """The delivery log once nothing is queued, retrying or being sent."""
    deadline = time.monotonic() + within
    while True:
        log = await deliveries(crm)
        if log["pending"] == 0:
            return log
        assert time.monotonic() < deadline, f"deliveries still pending: {log}"
        await asyncio.sleep(0.005)


async def subscribe(
    merchant: Merchant, topics: list[str] | None = None, url: str = RECEIVER_URL
) -> dict[str, Any]:
    return await merchant.created("/api/v1/webhooks", {"url": url, "topics": topics or ALL_TOPICS})
