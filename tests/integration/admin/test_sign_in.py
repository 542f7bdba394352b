"""Admin sign-in: a wrong password is refused, five lock the account, the form needs its CSRF token."""

from __future__ import annotations

import httpx
import pytest

from iam.admin import create_admin
from tests.support.admin_area import EMAIL, PASSWORD, post

pytestmark = pytest.mark.postgres


async def test_wrong_password_is_refused_and_five_failures_lock_the_account(
    client: httpx.AsyncClient,
) -> None:
    await create_admin(EMAIL, PASSWORD)
    for _ in range(4):
        wrong = await post(client, "/admin/login", {"email": EMAIL, "password": "not-the-password"})
        assert wrong.status_code == 401
        assert "email or password is not right" in wrong.text
    fifth = await post(client, "/admin/login", {"email": EMAIL, "password": "not-the-password"})
    assert "locked for 15 minutes" in fifth.text
    right_but_locked = await post(client, "/admin/login", {"email": EMAIL, "password": PASSWORD})
    assert right_but_locked.status_code == 401
    assert "locked" in right_but_locked.text
    unknown = await post(client, "/admin/login", {"email": "nobody@example.com", "password": PASSWORD})
    assert "email or password is not right" in unknown.text  # no hint that the account does not exist


async def test_admin_login_needs_csrf(client: httpx.AsyncClient) -> None:
    await create_admin(EMAIL, PASSWORD)
    response = await client.post("/admin/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 403
