"""`create_shopify_sandbox(config)`: the Shopify sandbox as a Litestar app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from sandbox.shopify.admin_api import admin_graphql
from sandbox.shopify.charges import CHARGE_HANDLERS
from sandbox.shopify.commerce_control import COMMERCE_CONTROL_HANDLERS
from sandbox.shopify.config import ShopifySandboxConfig
from sandbox.shopify.control import CONTROL_HANDLERS
from sandbox.shopify.oauth import OAUTH_HANDLERS
from sandbox.shopify.pages import PAGE_HANDLERS
from sandbox.shopify.runtime import ShopifySandbox
from sandbox.shopify.store_admin import STORE_ADMIN_HANDLERS

HERE = Path(__file__).parent
STATE_KEY = "shopify_sandbox"


def create_shopify_sandbox(config: ShopifySandboxConfig | None = None) -> Litestar:
    sandbox = ShopifySandbox(config or ShopifySandboxConfig())

    def provide_sandbox() -> ShopifySandbox:
        return sandbox

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        # The webhook client and its task live exactly as long as the app serves.
        await sandbox.start()
        try:
            yield
        finally:
            await sandbox.stop()

    return Litestar(
        route_handlers=[
            admin_graphql,
            *OAUTH_HANDLERS,
            *CHARGE_HANDLERS,
            *CONTROL_HANDLERS,
            *COMMERCE_CONTROL_HANDLERS,
            *PAGE_HANDLERS,
            *STORE_ADMIN_HANDLERS,
            create_static_files_router(path="/_sandbox/static", directories=[HERE / "static"]),
        ],
        dependencies={"sandbox": Provide(provide_sandbox, sync_to_thread=False)},
        lifespan=[lifespan],
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        state=State({STATE_KEY: sandbox}),
        openapi_config=None,
    )


def sandbox_of(app: Litestar) -> ShopifySandbox:
    """The running sandbox behind an app made by create_shopify_sandbox (for tests)."""
    sandbox = app.state[STATE_KEY]
    assert isinstance(sandbox, ShopifySandbox)
    return sandbox
