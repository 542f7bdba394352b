"""CRM IAM users: bearer checks, create-once by external id, validation, pagination."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sandbox.tests.integration.crm.sandbox_crm_support import Harness, bearer, running_crm


@pytest.fixture
async def crm() -> AsyncIterator[Harness]:
    async with running_crm() as harness:
        yield harness


# -- bearer tokens --------------------------------------------------------------------------


async def test_api_without_a_token_is_401_invalid_token(crm: Harness) -> None:
    response = await crm.http.get("/api/v1/users")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.headers["www-authenticate"].startswith('Bearer realm="crm"')


async def test_api_with_an_unknown_token_is_401(crm: Harness) -> None:
    response = await crm.http.get("/api/v1/users", headers=bearer("crm_at_made_up"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


async def test_app_token_expires_after_an_hour_on_the_sandbox_clock(crm: Harness) -> None:
    token = await crm.app_token()
    crm.clock.advance(3599)
    assert (await crm.http.get("/api/v1/users", headers=bearer(token))).status_code == 200
    crm.clock.advance(1)
    response = await crm.http.get("/api/v1/users", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert "expired" in response.json()["error_description"]


async def test_control_api_expires_tokens_for_end_to_end_tests(crm: Harness) -> None:
    token = await crm.app_token()
    assert (await crm.control("POST", "tokens/expire"))["expired"] == 1
    response = await crm.http.get("/api/v1/users", headers=bearer(token))
    assert response.status_code == 401


async def test_control_api_lists_tokens_without_revealing_them(crm: Harness) -> None:
    token = await crm.app_token()
    listed = await crm.control("GET", "tokens")
    assert [t["kind"] for t in listed["data"]] == ["app"]
    assert token not in str(listed)


# -- create once ---------------------------------------------------------------------------


async def test_create_user_answers_201_with_the_user(crm: Harness) -> None:
    response = await crm.create_member(await crm.app_token(), "acme.myshopify.com")
    assert response.status_code == 201
    user = response.json()
    assert user["id"].startswith("usr_")
    assert user["external_id"] == "acme.myshopify.com"
    assert user["shop_domain"] == "acme.myshopify.com"
    assert user["email"] == "owner@acme.myshopify.com"
    assert user["name"] == "Acme Owner"
    assert user["created_at"].endswith("Z")


async def test_same_external_id_again_is_409_with_the_existing_id(crm: Harness) -> None:
    token = await crm.app_token()
    first = (await crm.create_member(token)).json()
    again = await crm.create_member(token, name="Someone Else")
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    assert again.json()["existing_id"] == first["id"]
    users = (await crm.control("GET", "users"))["data"]
    assert [u["id"] for u in users] == [first["id"]]
    counters = (await crm.control("GET", "counters"))["writes"]
    assert counters["POST /api/v1/users"] == {"requests": 2, "responses": {"201": 1, "409": 1}}


async def test_concurrent_creates_make_exactly_one_user(crm: Harness) -> None:
    token = await crm.app_token()
    responses = await asyncio.gather(*(crm.create_member(token) for _ in range(5)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409, 409]
    assert len((await crm.control("GET", "users"))["data"]) == 1


async def test_invalid_fields_are_422_with_each_field(crm: Harness) -> None:
    response = await crm.http.post(
        "/api/v1/users",
        json={"external_id": "", "email": "not-an-email", "shop_domain": "acme.com"},
        headers=bearer(await crm.app_token()),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_failed"
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert set(fields) == {"external_id", "email", "name", "shop_domain"}
    assert all(fields.values())
    assert (await crm.control("GET", "users"))["data"] == []


async def test_body_that_is_not_json_is_400(crm: Harness) -> None:
    response = await crm.http.post(
        "/api/v1/users",
        content=b"{nope",
        headers={**bearer(await crm.app_token()), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


async def test_user_token_cannot_create_users(crm: Harness) -> None:
    user = await crm.new_member()
    token = await crm.user_token(user["id"])
    response = await crm.create_member(token, "other.myshopify.com")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


# -- reading ---------------------------------------------------------------------------------


async def test_find_by_external_id(crm: Harness) -> None:
    token = await crm.app_token()
    for shop in ("a.myshopify.com", "b.myshopify.com"):
        await crm.create_member(token, shop)
    response = await crm.http.get(
        "/api/v1/users", params={"external_id": "b.myshopify.com"}, headers=bearer(token)
    )
    page = response.json()
    assert [u["external_id"] for u in page["data"]] == ["b.myshopify.com"]
    assert page["next_cursor"] is None
    missing = await crm.http.get(
        "/api/v1/users", params={"external_id": "c.myshopify.com"}, headers=bearer(token)
    )
    assert missing.json() == {"data": [], "next_cursor": None}


async def test_cursor_pagination_walks_every_user_once_in_creation_order(crm: Harness) -> None:
    token = await crm.app_token()
    shops = [f"shop{i}.myshopify.com" for i in range(5)]
    for shop in shops:
        await crm.create_member(token, shop)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await crm.http.get("/api/v1/users", params=params, headers=bearer(token))).json()
        seen += [u["external_id"] for u in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == shops
    assert pages == 3


async def test_default_page_size_is_50(crm: Harness) -> None:
    token = await crm.app_token()
    for i in range(51):
        await crm.create_member(token, f"s{i}.myshopify.com")
    page = (await crm.http.get("/api/v1/users", headers=bearer(token))).json()
    assert len(page["data"]) == 50
    assert page["next_cursor"] is not None


async def test_bad_limit_and_cursor_are_422(crm: Harness) -> None:
    token = await crm.app_token()
    response = await crm.http.get(
        "/api/v1/users", params={"limit": "0", "cursor": "garbage"}, headers=bearer(token)
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"limit", "cursor"}


async def test_get_user_with_app_token_and_with_its_own_user_token(crm: Harness) -> None:
    user = await crm.new_member()
    for token in (await crm.app_token(), await crm.user_token(user["id"])):
        response = await crm.http.get(f"/api/v1/users/{user['id']}", headers=bearer(token))
        assert response.status_code == 200
        assert response.json() == user


async def test_user_token_cannot_read_another_user(crm: Harness) -> None:
    alice = await crm.new_member("alice.myshopify.com")
    bob = await crm.new_member("bob.myshopify.com")
    token = await crm.user_token(alice["id"])
    response = await crm.http.get(f"/api/v1/users/{bob['id']}", headers=bearer(token))
    assert response.status_code == 403


async def test_unknown_user_is_404(crm: Harness) -> None:
    response = await crm.http.get("/api/v1/users/usr_nope", headers=bearer(await crm.app_token()))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_start_page_and_health(crm: Harness) -> None:
    await crm.new_member("visible.myshopify.com")
    page = await crm.http.get("/")
    assert page.status_code == 200
    assert "CRM sandbox" in page.text
    assert "visible.myshopify.com" in page.text
    health = await crm.http.get("/healthz")
    assert health.json() == {"status": "ok", "service": "crm"}
