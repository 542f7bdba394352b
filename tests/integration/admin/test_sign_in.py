"""Admin sign-in: every refusal looks and costs the same, failures slow down their account and
their source, the real admin gets in once the short wait passes, and the audit log sees it all."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal, cast

import httpx
import pytest
import time_machine
from argon2 import PasswordHasher
from litestar import Litestar

from admin.sign_in import REFUSED
from iam import admin as iam_admin
from iam.admin import audit_log, create_admin
from iam.tables import AdminSignInThrottle
from lib.clock import utcnow
from tests.support.admin_area import EMAIL, PASSWORD, post

pytestmark = pytest.mark.postgres

WRONG = "not-the-password"


def count_password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Puts a counting hasher in place of the module's: the list grows by the hash checked, once
    per verification."""
    checked: list[str] = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            checked.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(iam_admin, "password_hasher", CountingHasher())
    return checked


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await post(client, "/admin/login", {"email": email, "password": password})


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert REFUSED in response.text
    assert "locked" not in response.text


async def waits_of(key: str) -> timedelta:
    row = await AdminSignInThrottle.select().where(AdminSignInThrottle.key == key).first()
    assert row is not None
    return cast(timedelta, row["next_allowed_at"] - row["last_failure_at"])


async def test_unknown_email_wrong_password_and_throttled_get_one_answer_and_one_password_check(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_admin(EMAIL, PASSWORD)
    checked = count_password_checks(monkeypatch)

    assert_refused(await sign_in(client, "nobody@example.com", PASSWORD))
    assert len(checked) == 1
    for attempt in range(2, 7):  # five failures start the account's wait
        assert_refused(await sign_in(client, EMAIL, WRONG))
        assert len(checked) == attempt
    throttled = await sign_in(client, EMAIL, PASSWORD)  # the right password, during the wait
    assert_refused(throttled)
    assert len(checked) == 7
    assert checked[0] == checked[6]  # unknown and throttled both check the dummy hash


async def test_delays_grow_and_the_admin_gets_in_once_the_wait_passes(client: httpx.AsyncClient) -> None:
    await create_admin(EMAIL, PASSWORD)
    with time_machine.travel(utcnow(), tick=True) as traveller:
        for _ in range(5):
            assert_refused(await sign_in(client, EMAIL, WRONG))
        assert await waits_of(f"account:{EMAIL}") == timedelta(seconds=1)
        traveller.shift(timedelta(seconds=1.2))
        assert_refused(await sign_in(client, EMAIL, WRONG))
        assert await waits_of(f"account:{EMAIL}") == timedelta(seconds=2)
        traveller.shift(timedelta(seconds=2.2))
        assert_refused(await sign_in(client, EMAIL, WRONG))
        assert await waits_of(f"account:{EMAIL}") == timedelta(seconds=4)

        assert_refused(await sign_in(client, EMAIL, PASSWORD))  # right, but during the wait
        traveller.shift(timedelta(seconds=3))
        assert_refused(await sign_in(client, EMAIL, PASSWORD))  # the wait grew: not over yet
        traveller.shift(timedelta(seconds=1.5))
        signed_in = await sign_in(client, EMAIL, PASSWORD)
    assert signed_in.status_code == 303, signed_in.text
    assert signed_in.headers["location"] == "/admin/plans"
    assert await AdminSignInThrottle.count() == 0  # a sign-in forgets its account's and source's failures


async def test_a_source_is_throttled_across_accounts_and_only_that_source(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    await create_admin(EMAIL, PASSWORD)
    with time_machine.travel(utcnow(), tick=True) as traveller:
        for n in range(10):  # two failures per email: no account reaches its own wait
            assert_refused(await sign_in(client, f"guess{n // 2}@example.com", WRONG))
        assert_refused(await sign_in(client, EMAIL, PASSWORD))  # this source must wait now

        transport = httpx.ASGITransport(app=cast(Any, app), client=("203.0.113.7", 4711))
        async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as elsewhere:
            from_elsewhere = await sign_in(elsewhere, EMAIL, PASSWORD)
        assert from_elsewhere.status_code == 303, from_elsewhere.text

        traveller.shift(timedelta(seconds=1.2))
        signed_in = await sign_in(client, EMAIL, PASSWORD)
    assert signed_in.status_code == 303, signed_in.text


async def test_audit_log_holds_failed_throttled_and_sign_out(client: httpx.AsyncClient) -> None:
    await create_admin(EMAIL, PASSWORD)
    with time_machine.travel(utcnow(), tick=True) as traveller:
        for _ in range(5):
            await sign_in(client, EMAIL, WRONG)
        await sign_in(client, EMAIL, PASSWORD)
        traveller.shift(timedelta(seconds=2))
        assert (await sign_in(client, EMAIL, PASSWORD)).status_code == 303
    assert (await post(client, "/admin/logout", {})).status_code == 303

    entries = list(reversed(await audit_log()))
    assert [entry["action"] for entry in entries] == [
        *["admin.login_failed"] * 5,
        "admin.login_throttled",
        "admin.login",
        "admin.logout",
    ]
    assert all(entry["actor"] == EMAIL for entry in entries)
    assert entries[0]["after"]["source"] == "127.0.0.1"
    assert "until" in entries[5]["after"]

    assert (await sign_in(client, EMAIL, PASSWORD)).status_code == 303
    page = await client.get("/admin/audit")
    assert page.status_code == 200
    for action in ("admin.login_failed", "admin.login_throttled", "admin.logout"):
        assert action in page.text


async def test_admin_login_needs_csrf(client: httpx.AsyncClient) -> None:
    await create_admin(EMAIL, PASSWORD)
    response = await client.post("/admin/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 403
