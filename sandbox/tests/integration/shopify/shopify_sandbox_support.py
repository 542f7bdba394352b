"""Helpers for the Shopify sandbox's integration tests: a fake clock, a webhook receiver,
a small Admin API client and polling with a deadline."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from litestar import Litestar, Request, Response, post

SANDBOX_URL = "http://shopify.sandbox.test"
RECEIVER_URL = "http://receiver.test"
MAIN_SHOP = "demo-store.myshopify.com"
API_VERSION = "2026-10"
SECRET = "test-shopify-secret"


# 2026-11-23 00:00:00 UTC: the epoch clock's start in tests.
EPOCH_START = 1_795_392_000.0


class FakeClock:
    """A clock that moves only when a test says so: the buckets' monotonic clock (from
    1000), or the epoch clock of token expiry and install timestamps (from EPOCH_START)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """A stand-in for the app's webhook endpoint, served in-process.

    `script` holds the status codes of the next answers (then 200); a code of 0 means
    "stall until released", to make a delivery slower than the sandbox's timeout.
    """

    received: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> Litestar:
        @post("/{path:path}", status_code=200)
        async def receive(request: Request[Any, Any, Any]) -> Response[str]:
            body = await request.body()
            self.received.append(Received(dict(request.headers), body))
            status = self.script.pop(0) if self.script else 200
            if status == 0:
                await self.release.wait()
                status = 200
            return Response("ok", status_code=status)

        return Litestar(route_handlers=[receive], openapi_config=None)


async def eventually(check: Callable[[], Awaitable[bool]] | Callable[[], bool], within: float = 5.0) -> None:
    """Poll until `check` is true, failing after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await asyncio.sleep(0.005)


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[None]:
    """Hold the app's lifespan open in one task of the test's loop.

    pytest-asyncio runs an async fixture's setup and teardown in different tasks, but
    Litestar's lifespan (an anyio task group) must be entered and left by the same task.
    """
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # re-raises a start-up failure
    try:
        yield
    finally:
        stop.set()
        await task


def asgi_transport(app: Litestar) -> httpx.ASGITransport:
    # httpx types the ASGI callable more narrowly than Litestar's (correct) signature.
    return httpx.ASGITransport(app=cast(Any, app))


def asgi_client(app: Litestar, base_url: str = SANDBOX_URL) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=asgi_transport(app), base_url=base_url)


class AdminApi:
    """A tiny Admin API client for one shop, the way the app's connector will call it."""

    def __init__(self, client: httpx.AsyncClient, shop: str, token: str) -> None:
        self.client, self.shop, self.token = client, shop, token

    @property
    def url(self) -> str:
        return f"/shops/{self.shop}/admin/api/{API_VERSION}/graphql.json"

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(
            self.url,
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": self.token},
        )

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def mint_token(client: httpx.AsyncClient, shop: str, scopes: str | None = None) -> str:
    response = await client.post(
        f"/_sandbox/shops/{shop}/tokens", json={"scopes": scopes} if scopes else None
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["access_token"]
    return token


def query_signature_ok(url: str, secret: str = SECRET) -> bool:
    """Shopify's documented check of a signed query (install request, OAuth callback),
    written from the docs rather than from the sandbox's signer: drop `hmac` (and
    `signature`), sort the rest by key, join `k=v` with `&`, hex HMAC-SHA256."""
    pairs = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    received = pairs.pop("hmac", "")
    pairs.pop("signature", None)
    message = "&".join(f"{key}={value}" for key, value in sorted(pairs.items()))
    expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received)
