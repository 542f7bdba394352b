"""Merchant sessions (iam/sessions.py): kept in the database behind an HttpOnly cookie, and a new
session id at sign-in, so one planted before is useless."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from iam.sessions import DatabaseSessionStore, stored_key
from iam.tables import MerchantSession
from tests.support.admin_area import signed_in_admin
from tests.support.app import add_test_routes
from tests.support.oauth_install import install_through_shopify
from tests.support.shops import csrf_token
from tests.support.stack import Stack, running_stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        yield running


async def test_sign_in_issues_a_new_session_id_so_a_planted_one_is_useless(stack: Stack) -> None:
    planted = "attacker-knows-this-session-id"
    stack.client.cookies.set("funnelsync_session", planted)
    callback = await install_through_shopify(stack)
    cookie = next(
        v for k, v in callback.headers.multi_items() if k == "set-cookie" and "funnelsync_session=" in v
    )
    issued = cookie.split("funnelsync_session=", 1)[1].split(";", 1)[0]
    assert issued not in (planted, "null")
    assert await MerchantSession.count().where(MerchantSession.key == stored_key(planted)) == 0
    assert await MerchantSession.count().where(MerchantSession.key == stored_key(issued)) == 1


@pytest.mark.postgres
async def test_session_lives_in_the_database_behind_an_httponly_cookie(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    add_test_routes(app)
    page = await client.get("/")
    token = re.search(r'"x-csrftoken": "([0-9a-f]+)"', page.text)
    assert token is not None
    response = await client.post("/test/session", headers={"x-csrftoken": token.group(1)})
    assert response.status_code == 200
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "funnelsync_session" in v
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "demo-store" not in cookie

    rows = await MerchantSession.select(MerchantSession.shop_domain, MerchantSession.data)
    assert [row["shop_domain"] for row in rows] == ["demo-store.myshopify.com"]
    assert json.loads(bytes(rows[0]["data"]))["note"] == "kept on the server"

    recalled = await client.get("/test/session")
    assert recalled.json()["note"] == "kept on the server"


async def test_anonymous_visits_store_no_session_and_signing_in_stores_one(stack: Stack) -> None:
    for _ in range(5):
        page = await stack.client.get("/")
        assert page.status_code == 200
        assert "funnelsync_session=" not in " ".join(page.headers.get_list("set-cookie"))
    assert await MerchantSession.count() == 0

    await install_through_shopify(stack)
    assert await MerchantSession.count() == 1


@pytest.mark.postgres
async def test_rows_are_keyed_by_a_hash_of_the_cookie_so_a_leaked_table_signs_no_one_in(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    add_test_routes(app)
    page = await client.get("/")
    token = re.search(r'"x-csrftoken": "([0-9a-f]+)"', page.text)
    assert token is not None
    await client.post("/test/session", headers={"x-csrftoken": token.group(1)})
    cookie = str(client.cookies["funnelsync_session"])

    keys = [row["key"] for row in await MerchantSession.select(MerchantSession.key)]
    assert keys == [hashlib.sha256(cookie.encode()).hexdigest()]
    assert cookie not in keys
    assert (await client.get("/test/session")).json()["note"] == "kept on the server"

    # Presenting the stored key as a cookie finds nothing.
    assert await DatabaseSessionStore().get(keys[0]) is None
    client.cookies.set("funnelsync_session", keys[0])
    assert "note" not in (await client.get("/test/session")).json()


async def test_merchant_sign_in_rotates_the_csrf_token(stack: Stack) -> None:
    before = await csrf_token(stack.client)
    await install_through_shopify(stack)
    after = await csrf_token(stack.client)
    assert after != before
    retry = await stack.client.post("/setup/retry", headers={"x-csrftoken": after})
    assert retry.status_code == 303
    stale = await stack.client.post("/setup/retry", headers={"x-csrftoken": before})
    assert stale.status_code == 403


async def test_admin_sign_in_rotates_the_csrf_token(stack: Stack) -> None:
    before = await csrf_token(stack.client)
    await signed_in_admin(stack.client)
    assert await csrf_token(stack.client) != before
