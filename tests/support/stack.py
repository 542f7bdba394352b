"""The app wired to in-process sandboxes: every call crosses a real ASGI boundary.

Each system gets a made-up host (http://shopify.test and so on); httpx's ASGI transports
route the app's calls to the sandboxes and the sandboxes' calls (JWKS, webhooks) back to
the app, all inside the test's event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx
from litestar import Litestar
from litestar.types import Receive, Scope, Send

from onboarding.app import create_app
from sandbox.common.clock import ManualClock
from sandbox.crm import CrmSandboxConfig, create_crm_sandbox
from sandbox.shopify import create_shopify_sandbox
from sandbox.shopify.config import ShopifySandboxConfig
from sandbox.templates_service import TemplatesSandboxConfig, create_templates_sandbox
from tests.support.app import asgi_client, lifespan_of, make_settings

APP_URL = "http://app.test"
SHOPIFY_URL = "http://shopify.test"
CRM_URL = "http://crm.test"
TEMPLATES_URL = "http://templates.test"


class LateBoundApp:
    """An ASGI app that forwards to one set later: the sandboxes need the app and vice versa."""

    def __init__(self) -> None:
        self.app: Litestar | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)


def transport_to(app: Any) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=cast(Any, app))


@dataclass
class Stack:
    app: Litestar
    client: httpx.AsyncClient
    shopify: httpx.AsyncClient
    crm: httpx.AsyncClient
    templates: httpx.AsyncClient
    clock: ManualClock

    async def drain(self) -> int:
        ran: int = await self.app.state.worker.drain()
        return ran


@asynccontextmanager
async def running_stack(database_url: str, **setting_overrides: Any) -> AsyncIterator[Stack]:
    app_proxy = LateBoundApp()
    clock = ManualClock()
    jwks_url = f"{APP_URL}/.well-known/jwks.json"
    shopify_app = create_shopify_sandbox(
        ShopifySandboxConfig(
            app_url=APP_URL,
            public_url=SHOPIFY_URL,
            webhook_transport=transport_to(app_proxy),
            webhook_retry_schedule=(0.01, 0.01),
        )
    )
    crm_app = create_crm_sandbox(
        CrmSandboxConfig(
            public_url=CRM_URL, app_jwks_url=jwks_url, clock=clock, http_transport=transport_to(app_proxy)
        )
    )
    templates_app = create_templates_sandbox(
        TemplatesSandboxConfig(
            public_url=TEMPLATES_URL,
            app_jwks_url=jwks_url,
            clock=clock,
            http_transport=transport_to(app_proxy),
        )
    )
    settings = make_settings(
        database_url,
        app_base_url=APP_URL,
        shopify_shop_base_url=f"{SHOPIFY_URL}/shops/{{shop}}",
        crm_base_url=CRM_URL,
        templates_base_url=TEMPLATES_URL,
        **setting_overrides,
    )
    app = create_app(
        settings,
        transports={
            "shopify": transport_to(shopify_app),
            "crm": transport_to(crm_app),
            "templates": transport_to(templates_app),
        },
    )
    app_proxy.app = app
    async with AsyncExitStack() as stack:
        for each in (shopify_app, crm_app, templates_app, app):
            await stack.enter_async_context(lifespan_of(each))
        yield Stack(
            app=app,
            client=await stack.enter_async_context(asgi_client(app, APP_URL)),
            shopify=await stack.enter_async_context(asgi_client(shopify_app, SHOPIFY_URL)),
            crm=await stack.enter_async_context(asgi_client(crm_app, CRM_URL)),
            templates=await stack.enter_async_context(asgi_client(templates_app, TEMPLATES_URL)),
            clock=clock,
        )
