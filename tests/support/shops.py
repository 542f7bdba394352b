"""An installed shop and a signed-in browser without the OAuth dance, and signed webhooks.

The shops are stores the Shopify sandbox seeds (sandbox/shopify/seed.py).
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import httpx
from litestar import Litestar

from connectors.shopify import TokenGrant
from iam.clients import ShopClients
from iam.context import IamContext
from iam.install import save_connected_shop
from iam.scopes import REQUIRED_SCOPES
from iam.sessions import DatabaseSessionStore
from jobqueue.tables import Job
from tests.support.signatures import webhook_signature
from tests.support.stack import Stack

SESSION_COOKIE = "funnelsync_session"
SHOP = "demo-store.myshopify.com"
OTHER_SHOP = "demo-advanced.myshopify.com"


def iam_of(app: Litestar) -> IamContext:
    context: IamContext = app.state.iam
    return context


def clients_of(app: Litestar) -> ShopClients:
    clients: ShopClients = app.state.clients
    return clients


async def install_shop(app: Litestar, shop_domain: str, access_token: str = "shpat_test") -> None:
    now = datetime.now(tz=UTC)
    grant = TokenGrant(
        access_token=access_token,
        scopes=frozenset(REQUIRED_SCOPES),
        access_token_expires_at=now + timedelta(hours=1),
        refresh_token="shprt_test",
        refresh_token_expires_at=now + timedelta(days=90),
    )
    await save_connected_shop(iam_of(app), shop_domain, grant, connection="oauth")


async def sign_in(client: httpx.AsyncClient, shop_domain: str) -> str:
    key = secrets.token_hex(32)
    await DatabaseSessionStore().set(key, json.dumps({"shop": shop_domain}).encode(), 3600)
    # A browser holds one session cookie: drop whatever the app set before.
    for cookie in [cookie for cookie in client.cookies.jar if cookie.name == SESSION_COOKIE]:
        client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    client.cookies.set(SESSION_COOKIE, key)
    return key


async def post_webhook(
    client: httpx.AsyncClient,
    topic: str,
    payload: dict[str, object],
    *,
    shop_domain: str,
    webhook_id: str | None = None,
    event_id: str | None = None,
    secret: str = "dev-shopify-secret",
) -> httpx.Response:
    """A delivery as Shopify makes it; a retry of one keeps its webhook id and its event id."""
    body = json.dumps(payload).encode()
    webhook_id = webhook_id or secrets.token_hex(8)
    return await client.post(
        "/webhooks/shopify",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": webhook_signature(body, secret),
            "X-Shopify-Shop-Domain": shop_domain,
            "X-Shopify-API-Version": "2026-10",
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Event-Id": event_id or f"event-of-{webhook_id}",
        },
    )


async def csrf_token(client: httpx.AsyncClient) -> str:
    """The CSRF token a browser would hold after loading any page (`__Host-` bound under https)."""
    names = ("csrftoken", "__Host-csrftoken")
    if not any(name in client.cookies for name in names):
        await client.get("/")
    return str(next(client.cookies[name] for name in names if name in client.cookies))


async def make_queued_jobs_due() -> None:
    """Skips the retry backoff: every queued job waiting to be retried becomes due now (the
    periodic catalog refresh and reconciliation, which have not failed, keep their hours)."""
    await Job.update({Job.run_at: Job.created_at}).where((Job.status == "queued") & (Job.attempts > 0))


async def installed(stack: Stack, shop: str = SHOP) -> None:
    """The shop installed with a token the Shopify sandbox minted; its set-up jobs are queued, not run."""
    minted = await stack.shopify.post(f"/_sandbox/shops/{shop}/tokens")
    await install_shop(stack.app, shop, access_token=minted.json()["access_token"])
