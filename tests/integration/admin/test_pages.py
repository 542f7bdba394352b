"""Every admin page needs an admin: a merchant's session is sent to the admin sign-in."""

from __future__ import annotations

import httpx
import pytest

from tests.support.shops import install_shop, sign_in

pytestmark = pytest.mark.postgres


async def test_a_merchant_session_cannot_reach_admin_pages(client: httpx.AsyncClient, app: object) -> None:
    await install_shop(app, "demo-store.myshopify.com")  # type: ignore[arg-type]
    await sign_in(client, "demo-store.myshopify.com")
    assert (await client.get("/app/")).status_code == 200
    for path in (
        "/admin/",
        "/admin/plans",
        "/admin/shops",
        "/admin/subscriptions",
        "/admin/sync",
        "/admin/dead-letters",
        "/admin/audit",
    ):
        response = await client.get(path)
        assert response.status_code == 302
        assert response.headers["location"] == "/admin/login"
