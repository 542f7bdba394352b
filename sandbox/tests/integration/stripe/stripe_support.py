"""A Stripe sandbox served by uvicorn on a free 127.0.0.1 port inside the test's event
loop, the official SDK (sync client, called through `asyncio.to_thread`) pointed at it,
and an in-process webhook receiver that verifies every delivery with
`stripe.Webhook.construct_event`."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import httpx
import stripe
import uvicorn

from sandbox.stripe import (
    StripeSandboxConfig,
    WebhookEndpointConfig,
    create_stripe_sandbox,
    stripe_sandbox_of,
)
from sandbox.stripe.runtime import StripeSandbox

SECRET_KEY = "sk_test_sandbox_tests"
WEBHOOK_SECRET = "whsec_tests_secret"
RECEIVER_URL = "http://receiver.test/webhooks/stripe"
T = TypeVar("T")


@dataclass
class Receiver:
    """Answers `fail_first` deliveries with 500, then 200; keeps the verified events."""

    secret: str = WEBHOOK_SECRET
    fail_first: int = 0
    events: list[stripe.Event] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    calls: int = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls <= self.fail_first:
            return httpx.Response(500)
        try:
            event = stripe.Webhook.construct_event(
                request.content.decode(), request.headers["stripe-signature"], self.secret
            )
        except (stripe.SignatureVerificationError, ValueError, KeyError) as exc:
            self.rejected.append(str(exc))
            return httpx.Response(400)
        self.events.append(event)
        return httpx.Response(200)

    def types(self) -> list[str]:
        return [e.type for e in self.events]


@dataclass
class FakeSleep:
    """Records the stalls of `timeout` faults instead of waiting."""

    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@dataclass
class Harness:
    url: str
    sandbox: StripeSandbox
    receiver: Receiver
    http: httpx.AsyncClient
    fault_sleep: FakeSleep

    def client(self, key: str = SECRET_KEY, retries: int = 0) -> stripe.StripeClient:
        return stripe.StripeClient(key, base_addresses={"api": self.url}, max_network_retries=retries)

    async def sdk(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(call, *args, **kwargs)

    async def control(self, method: str, path: str, json: Any = None) -> Any:
        response = await self.http.request(method, f"/_sandbox{path}", json=json)
        assert response.status_code < 300, response.text
        return response.json()

    async def wait_for(self, condition: Callable[[], bool], what: str, within: float = 5.0) -> None:
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; got {self.receiver.types()}")
            await asyncio.sleep(0.01)

    async def wait_for_events(self, *types: str) -> None:
        await self.wait_for(lambda: all(t in self.receiver.types() for t in types), f"events {types}")

    async def plan(
        self, *, amount: int = 1900, interval: str = "month", lookup_key: str | None = None
    ) -> tuple[stripe.Product, stripe.Price]:
        client = self.client()
        product = await self.sdk(client.v1.products.create, params={"name": f"Plan {amount}"})
        params: dict[str, Any] = {
            "product": product.id,
            "unit_amount": amount,
            "currency": "usd",
            "recurring": {"interval": interval},
        }
        if lookup_key:
            params["lookup_key"] = lookup_key
        price = await self.sdk(client.v1.prices.create, params=params)
        return product, price

    async def subscribe(
        self, price_id: str, *, trial_days: int | None = None, customer: str | None = None
    ) -> stripe.checkout.Session:
        """Create a Checkout Session and pay it on the hosted page with the good card."""
        params: dict[str, Any] = {
            "mode": "subscription",
            "line_items": [{"price": price_id, "quantity": 1}],
            "success_url": "http://app.test/billing/done?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://app.test/billing",
            "client_reference_id": "shop-1",
            "metadata": {"shop": "acme"},
        }
        if customer:
            params["customer"] = customer
        if trial_days:
            params["subscription_data"] = {"trial_period_days": trial_days}
        client = self.client()
        session = await self.sdk(client.v1.checkout.sessions.create, params=params)
        assert session.url is not None
        path = httpx.URL(session.url).path
        paid = await self.http.post(
            f"{path}/pay", data={"card_number": "4242 4242 4242 4242", "email": "a@b.test"}
        )
        assert paid.status_code == 303, paid.text
        return await self.sdk(client.v1.checkout.sessions.retrieve, session.id)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def running_stripe(**overrides: Any) -> AsyncIterator[Harness]:
    receiver = Receiver()
    fault_sleep = FakeSleep()
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = StripeSandboxConfig(
        secret_key=SECRET_KEY,
        public_url=url,
        webhook_endpoints=(WebhookEndpointConfig(RECEIVER_URL, WEBHOOK_SECRET),),
        webhook_transport=httpx.MockTransport(receiver.handle),
        webhook_retry_schedule=(0.01, 0.01, 0.01),
        fault_sleep=fault_sleep,
    )
    config = replace(config, **overrides)
    try:
        app = create_stripe_sandbox(config)
    except BaseException:
        sock.close()
        raise
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + 5
        while not server.started:
            if task.done() or time.monotonic() > deadline:
                raise RuntimeError("the Stripe sandbox did not start")
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=url) as http:
            yield Harness(url, stripe_sandbox_of(app), receiver, http, fault_sleep)
    finally:
        server.should_exit = True
        await task
        sock.close()
