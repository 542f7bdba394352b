"""The install a merchant makes: from the Shopify admin through the consent page back to the app."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.support.shops import SHOP
from tests.support.stack import SHOPIFY_URL, Stack


async def approve(stack: Stack, authorize_url: str) -> httpx.Response:
    """Presses "Install app" on the consent page: its form posts the query's values."""
    parts = urlsplit(authorize_url)
    return await stack.shopify.post(parts.path, data=dict(parse_qsl(parts.query)))


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def install_through_shopify(stack: Stack) -> httpx.Response:
    """What the merchant's browser does: Shopify admin -> app -> consent -> app callback."""
    link = (await stack.shopify.get(f"/_sandbox/shops/{SHOP}/install-link")).json()["url"]
    to_shopify = await stack.client.get(path_of(link))
    assert to_shopify.status_code == 302, to_shopify.text
    authorize = to_shopify.headers["location"]
    assert authorize.startswith(f"{SHOPIFY_URL}/shops/{SHOP}/admin/oauth/authorize?")
    consent = await stack.shopify.get(path_of(authorize))
    assert consent.status_code == 200
    assert "write_products" in consent.text
    approved = await approve(stack, authorize)
    assert approved.status_code == 302
    return await stack.client.get(path_of(approved.headers["location"]))
