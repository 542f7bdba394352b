"""The app in a test: its settings, its lifespan in the test's own task, an ASGI client."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx
from litestar import Litestar, Request, get, post

from onboarding.settings import Environment, Settings

TEST_SIGNING_KEY = Path(tempfile.gettempdir()) / "funnelsync-test-signing-key.pem"


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "app_env": Environment.test,
        "database_url": database_url,
        "app_base_url": "http://testserver",
        "secret_key": "test-secret-key-with-enough-length-0123456789",
        "shopify_shop_base_url": "http://shopify.test/shops/{shop}",
        "app_signing_key_file": TEST_SIGNING_KEY,
        "run_worker": False,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@asynccontextmanager
async def lifespan_of(app: Litestar) -> AsyncIterator[None]:
    """Runs the app's lifespan in one task of this test's loop.

    pytest-asyncio sets up and tears down async fixtures in different tasks, and the
    lifespan's anyio task group must be entered and left by the same one.
    """
    started = asyncio.Event()
    stop = asyncio.Event()

    async def hold() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # re-raises the start-up failure
    try:
        yield
    finally:
        stop.set()
        await task


def asgi_client(app: Litestar, base_url: str = "http://testserver") -> httpx.AsyncClient:
    # httpx types its ASGI app more narrowly than Litestar's (correct) signature.
    transport = httpx.ASGITransport(app=cast(Any, app))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


def add_test_routes(app: Litestar) -> None:
    """Routes only tests call: an echo behind CSRF, a failure, and a session to write and read back."""

    @post("/test/echo", status_code=200, sync_to_thread=False)
    def echo() -> dict[str, str]:
        return {"ok": "yes"}

    @get("/test/boom", sync_to_thread=False)
    def boom() -> str:
        raise RuntimeError("secret-internal-detail shpat_abc")

    @post("/test/session", status_code=200, sync_to_thread=False)
    def remember(request: Request[Any, Any, Any]) -> dict[str, str]:
        request.set_session({"shop": "demo-store.myshopify.com", "note": "kept on the server"})
        return {"ok": "yes"}

    @get("/test/session", sync_to_thread=False)
    def recall(request: Request[Any, Any, Any]) -> dict[str, object]:
        return dict(request.session)

    for handler in (echo, boom, remember, recall):
        app.register(handler)
