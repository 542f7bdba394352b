"""The app's side of Shopify's OAuth, as the product's client does it, for the sandbox tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from sandbox.tests.integration.shopify.shopify_sandbox_support import MAIN_SHOP, SECRET

CLIENT_ID = "dev-shopify-key"  # ShopifySandboxConfig's default api_key
APP_URL = "http://app.test"  # the tests' app_url
CALLBACK = f"{APP_URL}/shopify/callback"
# What the product asks for (iam/scopes.py).
REQUIRED_SCOPES = "write_products,write_customers,write_orders,write_fulfillments,read_discounts"
STATE = "state-0123456789"


def authorize_path(shop: str = MAIN_SHOP) -> str:
    return f"/shops/{shop}/admin/oauth/authorize"


def token_path(shop: str = MAIN_SHOP) -> str:
    return f"/shops/{shop}/admin/oauth/access_token"


def authorize_params(**overrides: str) -> dict[str, str]:
    params = {"client_id": CLIENT_ID, "scope": REQUIRED_SCOPES, "redirect_uri": CALLBACK, "state": STATE}
    params.update(overrides)
    return params


async def approve(client: httpx.AsyncClient, shop: str = MAIN_SHOP, **overrides: str) -> httpx.Response:
    """The merchant clicks "Install app" on the consent page (its form posts these fields)."""
    return await client.post(authorize_path(shop), data=authorize_params(**overrides))


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


async def authorization_code(
    client: httpx.AsyncClient, shop: str = MAIN_SHOP, scope: str = REQUIRED_SCOPES
) -> str:
    response = await approve(client, shop, scope=scope)
    assert response.status_code == 302, response.text
    return query_of(response.headers["location"])["code"]


async def token_request(client: httpx.AsyncClient, shop: str = MAIN_SHOP, **fields: str) -> httpx.Response:
    """Form-encoded, with the client's credentials unless a test overrides them."""
    form = {"client_id": CLIENT_ID, "client_secret": SECRET, **fields}
    return await client.post(token_path(shop), data=form, headers={"Accept": "application/json"})


async def install(
    client: httpx.AsyncClient, shop: str = MAIN_SHOP, scope: str = REQUIRED_SCOPES, *, expiring: bool = True
) -> dict[str, Any]:
    """The whole round trip: approve, then exchange the code. Returns the token answer."""
    code = await authorization_code(client, shop, scope)
    fields = {"code": code, **({"expiring": "1"} if expiring else {})}
    response = await token_request(client, shop, **fields)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(client: httpx.AsyncClient, refresh_token: str, shop: str = MAIN_SHOP) -> httpx.Response:
    return await token_request(client, shop, grant_type="refresh_token", refresh_token=refresh_token)
