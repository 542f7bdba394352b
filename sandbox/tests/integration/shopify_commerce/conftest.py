"""Fixtures for the Shopify sandbox's customers, orders, fulfillments and bulk operations:
the sandbox in its lifespan, an Admin API client with a full token, a webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
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
def receiver() -> WebhookReceiver:
    return WebhookReceiver()


@pytest.fixture
def make_config(receiver: WebhookReceiver) -> Callable[..., ShopifySandboxConfig]:
    def make(**overrides: Any) -> ShopifySandboxConfig:
        settings: dict[str, Any] = {
            "api_secret": SECRET,
            "public_url": SANDBOX_URL,
            "app_url": "http://app.test",
            "clock": FakeClock(),
            "epoch_clock": FakeClock(EPOCH_START),
            "webhook_retry_schedule": (0.01,) * 7,
            "webhook_timeout": 5.0,
            "webhook_transport": asgi_transport(receiver.app()),
            # Long enough to be seen RUNNING, short enough for a test.
            "bulk_operation_duration": 0.1,
        }
        settings.update(overrides)
        return ShopifySandboxConfig(**settings)

    return make


@pytest.fixture
async def sandbox_app(make_config: Callable[..., ShopifySandboxConfig]) -> AsyncIterator[Litestar]:
    app = create_shopify_sandbox(make_config())
    async with running(app):
        yield app


@pytest.fixture
async def client(sandbox_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(sandbox_app) as http:
        yield http


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> AdminApi:
    """The app's view of the main demo store, with every scope the app asks for."""
    return AdminApi(client, MAIN_SHOP, await mint_token(client, MAIN_SHOP))
