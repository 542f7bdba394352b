"""The app as create_app assembles it, through its real HTTP interface: a post needs its CSRF token.

Its parts have their own tests: probes (test_controllers.py), errors, security headers,
request ids and logs (test_observability.py), sessions (tests/integration/iam/test_sessions.py).
"""

from __future__ import annotations

import re

import httpx
from litestar import Litestar

from onboarding.app import create_app
from tests.support.app import add_test_routes, asgi_client, make_settings


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
