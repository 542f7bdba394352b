"""The merchant's routes (iam/controllers.py): connecting a store the custom-app way (seeds/002: shop,
Admin API token and API version), only a merchant's session acting as a merchant, and signing out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from iam.tables import MerchantSession, Shop
from tests.support.admin_area import post, signed_in_admin
from tests.support.shops import SESSION_COOKIE, csrf_token, installed, sign_in
from tests.support.stack import Stack, running_stack

SHOP = "demo-plus.myshopify.com"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        yield running


async def connect(stack: Stack, **fields: str) -> object:
    form = {"shop": SHOP, "access_token": "", "api_version": "2026-10", **fields}
    return await stack.client.post("/connect/", data={**form, "_csrf_token": await csrf_token(stack.client)})


async def test_valid_token_connects_the_store_and_detects_its_plan(stack: Stack) -> None:
    token = (await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")).json()["access_token"]
    response = await connect(stack, access_token=token)
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["location"] == "/setup"  # type: ignore[attr-defined]
    shop = await Shop.select(Shop.name, Shop.plan_tier, Shop.connection, Shop.access_token).first()
    assert shop is not None
    assert (shop["name"], shop["plan_tier"], shop["connection"]) == ("Demo Plus", "plus", "access_token")
    assert token not in shop["access_token"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"shop": ""}, "Enter your store"),
        ({"shop": "plus.example.com", "access_token": "x"}, "ending in .myshopify.com"),
        ({"access_token": ""}, "Enter the Admin API access token"),
        ({"access_token": "shpat_wrong"}, "Shopify refused this token"),
        ({"access_token": "x", "api_version": "1999-01"}, "Choose the API version"),
    ],
)
async def test_bad_connection_details_are_explained_and_nothing_is_saved(
    stack: Stack, fields: dict[str, str], message: str
) -> None:
    response = await connect(stack, **fields)
    assert response.status_code == 400  # type: ignore[attr-defined]
    page = response.text  # type: ignore[attr-defined]
    assert message in page
    assert "There is a problem" in page
    if fields.get("shop", SHOP) == SHOP:
        assert f'value="{SHOP}"' in page  # the shop typed is kept; the token is never echoed back
    assert await Shop.count() == 0


async def test_token_without_the_needed_permissions_is_refused_with_the_list(stack: Stack) -> None:
    narrow = await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens", json={"scopes": ["read_products"]})
    response = await connect(stack, access_token=narrow.json()["access_token"])
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "lacks these permissions" in response.text  # type: ignore[attr-defined]
    assert "write_orders" in response.text  # type: ignore[attr-defined]
    assert await Shop.count() == 0


@pytest.mark.postgres
async def test_an_admin_session_cannot_act_as_a_merchant(client: httpx.AsyncClient) -> None:
    await signed_in_admin(client)
    assert (await client.get("/admin/plans")).status_code == 200
    merchant = await client.get("/app/", headers={"accept": "text/html"})
    assert merchant.status_code == 401
    created = await post(client, "/funnels/", {})
    assert created.status_code == 401


async def test_merchant_signs_out_from_the_header_and_the_session_ends(stack: Stack) -> None:
    await installed(stack)
    await sign_in(stack.client, "demo-store.myshopify.com")
    dashboard = await stack.client.get("/app/")
    assert dashboard.status_code == 200
    assert 'action="/sign-out"' in dashboard.text
    assert await MerchantSession.count() == 1

    refused = await stack.client.post("/sign-out")  # no CSRF token
    assert refused.status_code == 403
    assert await MerchantSession.count() == 1

    response = await stack.client.post("/sign-out", data={"_csrf_token": await csrf_token(stack.client)})
    assert response.status_code == 303
    assert response.headers["location"] == "/signed-out"
    assert await MerchantSession.count() == 0
    cleared = [v for v in response.headers.get_list("set-cookie") if v.startswith(f"{SESSION_COOKIE}=")]
    assert len(cleared) == 1
    assert cleared[0].startswith(f"{SESSION_COOKIE}=null;")

    page = await stack.client.get("/signed-out")
    assert page.status_code == 200
    assert "You are signed out" in page.text
    assert 'action="/sign-out"' not in page.text
    assert (await stack.client.get("/app/")).status_code == 401
