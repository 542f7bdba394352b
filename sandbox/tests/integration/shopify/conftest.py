"""In-process fixtures for the Shopify sandbox: the app in its lifespan, an httpx client
over ASGITransport, fake clocks (buckets; token expiry) and a webhook receiver app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from sandbox.shopify import ShopifySandboxConfig, create_shopify_sandbox
from sandbox.tests.integration.shopify.shopify_sandbox_support import (
    EPOCH_START,
    MAIN_SHOP,
    SANDBOX_URL,
    SECRET,
    AdminApi,
    FakeClock,
    WebhookReceiver,
    asgi_client,
    asgi_transport,
    mint_token,
    running,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def epoch_clock() -> FakeClock:
    """Wall-clock seconds for OAuth codes, token expiry and install-link timestamps."""
    return FakeClock(EPOCH_START)


@pytest.fixture
def receiver() -> WebhookReceiver:
    return WebhookReceiver()


@pytest.fixture
def make_config(
    clock: FakeClock, epoch_clock: FakeClock, receiver: WebhookReceiver
) -> Callable[..., ShopifySandboxConfig]:
    def make(**overrides: Any) -> ShopifySandboxConfig:
        settings: dict[str, Any] = {
            "api_secret": SECRET,
            "public_url": SANDBOX_URL,
            "app_url": "http://app.test",
            "clock": clock,
            "epoch_clock": epoch_clock,
            # Seven tiny waits: eight attempts in all, as on Shopify, in milliseconds.
            "webhook_retry_schedule": (0.01,) * 7,
            # Generous, so a busy machine never turns a normal delivery into a retry;
            # the timeout test sets its own short one.
            "webhook_timeout": 5.0,
            "webhook_transport": asgi_transport(receiver.app()),
        }
        settings.update(overrides)
        return ShopifySandboxConfig(**settings)

    return make


@pytest.fixture
async def sandbox_app(make_config: Callable[..., ShopifySandboxConfig]) -> AsyncIterator[Litestar]:
    """The Shopify sandbox, started (webhook dispatcher running) for the whole test."""
    app = create_shopify_sandbox(make_config())
    async with running(app):
        yield app


@pytest.fixture
async def client(sandbox_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(sandbox_app) as http:
        yield http


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> AdminApi:
    return AdminApi(client, MAIN_SHOP, await mint_token(client, MAIN_SHOP))


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "shopify-state.json"
