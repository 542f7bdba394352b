"""A sandbox app in the test's event loop: its lifespan held open, an httpx client over ASGI.

The sandbox's own copy of the two helpers the product's tests/conftest.py has, so the
sandbox tests import nothing from the product or its tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
from litestar import Litestar


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
