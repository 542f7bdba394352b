"""The app as create_app assembles it, through its real HTTP interface: a post needs its CSRF token.

Its parts have their own tests: probes (test_controllers.py), errors, security headers,
request ids and logs (test_observability.py), sessions (tests/integration/iam/test_sessions.py).
"""

from __future__ import annotations

import re

import httpx
import pytest
from litestar import Litestar

from iam.admin import create_admin
from iam.tables import AdminSession, MerchantSession
from onboarding.app import create_app
from tests.support.admin_area import EMAIL, PASSWORD, post
from tests.support.app import add_test_routes, asgi_client, lifespan_of, make_settings
from tests.support.shops import csrf_token


async def test_post_without_csrf_token_is_refused(app: Litestar, client: httpx.AsyncClient) -> None:
    add_test_routes(app)
    refused = await client.post("/test/echo", headers={"accept": "text/html"})
    assert refused.status_code == 403
    assert "refused" in refused.text

    page = await client.get("/")
    token = re.search(r'"x-csrftoken": "([0-9a-f]+)"', page.text)
    assert token is not None
    accepted = await client.post("/test/echo", headers={"x-csrftoken": token.group(1)})
    assert accepted.status_code == 200
    assert accepted.json() == {"ok": "yes"}

    forged = await client.post("/test/echo", headers={"x-csrftoken": "0" * len(token.group(1))})
    assert forged.status_code == 403


async def test_csrf_cookie_is_host_prefixed_under_https(database_url: str) -> None:
    app = create_app(make_settings(database_url, app_base_url="https://app.example"))
    async with asgi_client(app, base_url="https://app.example") as client:
        page = await client.get("/")
    cookie = next(v for v in page.headers.get_list("set-cookie") if "csrftoken=" in v)
    assert cookie.startswith("__Host-csrftoken=")
    assert "Secure" in cookie
    assert "Path=/" in cookie
    assert "Domain" not in cookie


def set_cookie(response: httpx.Response, name: str) -> str:
    """The one Set-Cookie header of `name` in `response`."""
    [cookie] = [value for value in response.headers.get_list("set-cookie") if value.startswith(f"{name}=")]
    return cookie


def cookie_attributes(cookie: str) -> set[str]:
    return {part.strip().lower() for part in cookie.split(";")[1:]}


@pytest.mark.parametrize(
    ("base_url", "prefix", "secure"),
    [("https://app.example", "__Host-", True), ("http://app.example", "", False)],
    ids=["https", "http"],
)
async def test_session_cookies_are_host_bound_under_https_and_sign_in_and_out_still_work(
    database_url: str, base_url: str, prefix: str, secure: bool
) -> None:
    app = create_app(make_settings(database_url, app_base_url=base_url))
    add_test_routes(app)
    merchant_cookie, admin_cookie = f"{prefix}funnelsync_session", f"{prefix}funnelsync_admin"
    async with lifespan_of(app), asgi_client(app, base_url=base_url) as client:
        signed_in = await client.post("/test/session", headers={"x-csrftoken": await csrf_token(client)})
        issued = set_cookie(signed_in, merchant_cookie)
        assert (await client.get("/test/session")).json()["note"] == "kept on the server"
        signed_out = await client.post("/sign-out", data={"_csrf_token": await csrf_token(client)})
        assert signed_out.status_code == 303
        cleared = set_cookie(signed_out, merchant_cookie)
        assert cleared.startswith(f"{merchant_cookie}=null;")
        assert await MerchantSession.count() == 0
        assert "note" not in (await client.get("/test/session")).json()

        await create_admin(EMAIL, PASSWORD)
        admin_in = await post(client, "/admin/login", {"email": EMAIL, "password": PASSWORD})
        assert admin_in.status_code == 303, admin_in.text
        admin_issued = set_cookie(admin_in, admin_cookie)
        assert (await client.get("/admin/plans")).status_code == 200
        admin_out = await post(client, "/admin/logout", {})
        assert admin_out.status_code == 303
        admin_cleared = set_cookie(admin_out, admin_cookie)
        assert await AdminSession.count() == 0
        assert (await client.get("/admin/plans", follow_redirects=False)).status_code != 200

    for cookie in (issued, cleared, admin_issued, admin_cleared):
        attributes = cookie_attributes(cookie)
        # What a browser demands of a __Host- cookie: Secure, Path=/ and no Domain.
        assert ("secure" in attributes) is secure
        assert "path=/" in attributes
        assert not any(attribute.startswith("domain") for attribute in attributes)
        assert "httponly" in attributes
    assert "samesite=lax" in cookie_attributes(issued)
    assert "samesite=strict" in cookie_attributes(admin_issued)
