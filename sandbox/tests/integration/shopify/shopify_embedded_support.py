"""The Shopify sandbox over a real socket, and the official `shopifyapp` package pointed at it.

The package builds Shopify's URLs itself (`https://{shop}.myshopify.com/admin/oauth/
access_token`); an app reaches the sandbox through the `httpx.AsyncClient` it may inject,
whose transport here maps `https://{shop}` to `{sandbox}/shops/{shop}`, the sandbox's
stand-in for that origin. Nothing else of the request changes.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
from litestar import Litestar
from shopify_app import ShopifyApp
from shopify_app.types import RequestInput

from sandbox.shopify import ShopifySandboxConfig, create_shopify_sandbox
from sandbox.shopify.app import sandbox_of
from sandbox.shopify.runtime import ShopifySandbox

CLIENT_ID = "dev-shopify-key"  # ShopifySandboxConfig's default api_key
# Shaped like a real client secret (`shpss_` and 32 hex digits): PyJWT, under the package,
# warns about HMAC keys shorter than 32 bytes, and the tests turn warnings into errors.
SECRET = "shpss_0123456789abcdef0123456789abcdef"
APP_URL = "http://app.test"
PATCH_ID_TOKEN_PATH = "/auth/patch-id-token"


class ShopOriginTransport(httpx.AsyncBaseTransport):
    """Sends `https://{shop}.myshopify.com/...` to the sandbox's `/shops/{shop}/...`."""

    def __init__(self, sandbox_url: str) -> None:
        self._sandbox = httpx.URL(sandbox_url)
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if request.url.scheme == "https" and host.endswith(".myshopify.com"):
            request.url = self._sandbox.copy_with(
                path=f"/shops/{host}{request.url.path}", query=request.url.query or None
            )
            request.headers["Host"] = self._sandbox.netloc.decode()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class Served:
    url: str
    sandbox: ShopifySandbox
    http: httpx.AsyncClient  # plain client for the sandbox's own URLs
    shopify_http: httpx.AsyncClient  # what the package gets: https://{shop} mapped here
    shopify: ShopifyApp

    def app_config(self) -> dict[str, Any]:
        return {"client_id": CLIENT_ID, "client_secret": SECRET}


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serve(app: Litestar, sock: socket.socket) -> AsyncIterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + 5
        while not server.started:
            if task.done() or time.monotonic() > deadline:
                raise RuntimeError("the Shopify sandbox did not start")
            await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def served_shopify(*, host_name: str = "127.0.0.1", **overrides: Any) -> AsyncIterator[Served]:
    """The sandbox on a free 127.0.0.1 port, on real wall-clock time: the package checks
    `exp` against the real clock, so the sandbox must mint on it. `host_name` is the name
    the sandbox is known by (`localhost` makes it another site than an app on 127.0.0.1)."""
    sock = free_socket()
    port = sock.getsockname()[1]
    url = f"http://{host_name}:{port}"
    settings: dict[str, Any] = {"api_secret": SECRET, "public_url": url, "app_url": APP_URL}
    settings.update(overrides)
    app = create_shopify_sandbox(ShopifySandboxConfig(**settings))
    async with (
        serve(app, sock),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        httpx.AsyncClient(transport=ShopOriginTransport(url)) as shopify_http,
    ):
        yield Served(
            url,
            sandbox_of(app),
            http,
            shopify_http,
            ShopifyApp(client_id=CLIENT_ID, client_secret=SECRET),
        )


def document_request(url: str) -> RequestInput:
    """A browser's GET of `url` in the package's request shape (see its README)."""
    parts = urlsplit(url)
    return {"method": "GET", "headers": {"host": parts.netloc}, "url": url, "body": ""}
