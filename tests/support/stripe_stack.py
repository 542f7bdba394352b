"""The app with BILLING_PROVIDER=stripe against the Stripe sandbox served by uvicorn on a free
127.0.0.1 port (the SDK's async client takes no ASGI transport: real HTTP, as in production).

The sandbox delivers its signed webhooks to the app in-process (ASGI), like the other
sandboxes of tests.support.stack; `settle()` waits until every event was delivered, then runs the
worker until nothing is left, so a test sees what the merchant would see a moment later.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import stripe
import uvicorn

from billing.plans import PlanForm, create_plan
from jobqueue.tables import InboxEvent
from sandbox.stripe import (
    StripeSandboxConfig,
    WebhookEndpointConfig,
    create_stripe_sandbox,
    stripe_sandbox_of,
)
from sandbox.stripe.runtime import StripeSandbox
from tests.support.funnel_wizard import post_form
from tests.support.shops import SHOP, install_shop, sign_in
from tests.support.stack import APP_URL, LateBoundApp, Stack, running_stack, transport_to

SECRET_KEY = "sk_test_billing_tests"
WEBHOOK_SECRET = "whsec_billing_tests"
GOOD_CARD = "4242 4242 4242 4242"

PLAN_FIELDS = {"currency": "USD", "interval": "month", "description": ""}


PRO = PlanForm.from_data(
    {
        **PLAN_FIELDS,
        "code": "pro",
        "name": "Pro",
        "price": "29.00",
        "trial_days": "0",
        "live_funnels_limit": "5",
        "synced_orders_limit": "5000",
        "upsells_limit": "3",
    }
)


GROWTH = PlanForm.from_data(
    {
        **PLAN_FIELDS,
        "code": "growth",
        "name": "Growth",
        "price": "49.00",
        "trial_days": "14",
        "live_funnels_limit": "20",
        "synced_orders_limit": "20000",
        "upsells_limit": "4",
    }
)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class StripeStack:
    stack: Stack
    url: str
    sandbox: StripeSandbox
    http: httpx.AsyncClient  # to the sandbox: hosted pages and the control API

    @property
    def client(self) -> httpx.AsyncClient:
        return self.stack.client

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, f"/_sandbox{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json()

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """The sandbox's objects of one kind, newest first."""
        return self.sandbox.of_kind(kind)

    async def settle(self, within: float = 15.0) -> None:
        """Every event the sandbox emitted is delivered, and the worker has nothing left."""
        deadline = time.monotonic() + within
        while True:
            delivered = {d["event_id"] for d in self.sandbox.state.deliveries if d["delivered"]}
            emitted = {e["id"] for e in self.objects("event")}
            endpoints = bool(self.sandbox.state.webhook_endpoints)
            if (not endpoints or emitted <= delivered) and await self.stack.drain() == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"events not delivered in time: {sorted(emitted - delivered)}")
            await asyncio.sleep(0.01)

    async def subscribe(
        self, plan: str, *, card: str = GOOD_CARD, follow_return: bool = True, then: str | None = None
    ) -> str:
        """Chooses the plan on the billing page (come from `then`) and pays on Stripe's hosted
        checkout page. Returns where the app sends the merchant afterwards (or the return URL,
        unfollowed)."""
        started = await post_form(
            self.stack, "/billing/subscribe", {"plan": plan, **({"then": then} if then else {})}
        )
        assert started.status_code == 303, started.text  # type: ignore[attr-defined]
        checkout = httpx.URL(started.headers["location"])  # type: ignore[attr-defined]
        assert str(checkout).startswith(f"{self.url}/checkout/cs_test_"), checkout
        page = await self.http.get(checkout.path)
        assert page.status_code == 200, page.text
        paid = await self.http.post(f"{checkout.path}/pay", data={"card_number": card})
        assert paid.status_code == 303, paid.text
        back = httpx.URL(paid.headers["location"])
        assert str(back).startswith(f"{APP_URL}/billing/checkout/return?"), back
        assert back.params["session_id"].startswith("cs_test_"), back
        if not follow_return:
            return str(back)
        returned = await self.client.get(f"{back.path}?{back.query.decode()}")
        assert returned.status_code == 302, returned.text
        location: str = returned.headers["location"]
        return location

    def signed(
        self, event: dict[str, Any], secret: str = WEBHOOK_SECRET, at: int | None = None
    ) -> tuple[bytes, str]:
        body = json.dumps(event).encode()
        header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=at)
        return body, str(header)

    async def post_event(self, event: dict[str, Any], **signing: Any) -> httpx.Response:
        """Delivers an event to the app as Stripe does: raw JSON, Stripe-Signature."""
        body, header = self.signed(event, **signing)
        return await self.client.post(
            "/webhooks/stripe",
            content=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": header},
        )

    def event(self, event_type: str, obj: dict[str, Any], created: int, **extra: Any) -> dict[str, Any]:
        """A Stripe event as the sandbox would send it, for tests that choose the order."""
        return {
            "id": "evt_test_" + secrets.token_hex(8),
            "object": "event",
            "api_version": self.sandbox.config.api_version,
            "created": created,
            "data": {"object": obj, **extra},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }


@asynccontextmanager
async def running_stripe_stack(database_url: str, **setting_overrides: Any) -> AsyncIterator[StripeStack]:
    app_proxy = LateBoundApp()
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sandbox_app = create_stripe_sandbox(
        StripeSandboxConfig(
            secret_key=SECRET_KEY,
            public_url=url,
            webhook_endpoints=(WebhookEndpointConfig(f"{APP_URL}/webhooks/stripe", WEBHOOK_SECRET),),
            webhook_transport=transport_to(app_proxy),
            webhook_retry_schedule=(0.01, 0.01),
        )
    )
    server = uvicorn.Server(uvicorn.Config(sandbox_app, log_level="warning", lifespan="on", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if task.done() or time.monotonic() > deadline:
                raise RuntimeError("the Stripe sandbox did not start")
            await asyncio.sleep(0.01)
        settings: dict[str, Any] = {
            "billing_provider": "stripe",
            "stripe_api_key": SECRET_KEY,
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "stripe_api_base": url,
            **setting_overrides,
        }
        async with running_stack(database_url, **settings) as stack, httpx.AsyncClient(base_url=url) as http:
            app_proxy.app = stack.app
            yield StripeStack(stack, url, stripe_sandbox_of(sandbox_app), http)
    finally:
        server.should_exit = True
        await task
        sock.close()


async def installed_and_signed_in(stack: Stack, shop: str) -> None:
    minted = await stack.shopify.post(f"/_sandbox/shops/{shop}/tokens")
    await install_shop(stack.app, shop, access_token=minted.json()["access_token"])
    await stack.drain()
    await sign_in(stack.client, shop)


@asynccontextmanager
async def stripe_stack_with_plans(database_url: str, **setting_overrides: Any) -> AsyncIterator[StripeStack]:
    """The Stripe stack with SHOP installed and signed in, and the Pro and Growth plans on offer."""
    async with running_stripe_stack(database_url, **setting_overrides) as running:
        await installed_and_signed_in(running.stack, SHOP)
        await create_plan(PRO)
        await create_plan(GROWTH)
        yield running


async def stripe_inbox() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = await InboxEvent.select(
        InboxEvent.delivery_key, InboxEvent.topic, InboxEvent.status
    ).where(InboxEvent.source == "stripe")
    return rows
