"""Template service sandbox: its own OAuth client and merchant accounts, as the CRM's users."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sandbox.tests.integration.crm.sandbox_crm_support import (
    AUTHLIB_HTTPX_WARNING,
    CRM_CLIENT,
    JWT_BEARER,
    Harness,
    bearer,
    running_templates,
)

pytestmark = pytest.mark.filterwarnings(AUTHLIB_HTTPX_WARNING)


@pytest.fixture
async def templates() -> AsyncIterator[Harness]:
    async with running_templates() as harness:
        yield harness


async def test_authlib_client_gets_an_app_token_from_the_template_service(
    templates: Harness,
) -> None:
    token = await templates.oauth_client().fetch_token(templates.token_url, grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert token["scope"] == "accounts:read accounts:write"


async def test_crm_credentials_are_not_a_template_service_client(templates: Harness) -> None:
    response = await templates.post_token({"grant_type": "client_credentials"}, auth=CRM_CLIENT)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_account_create_then_create_again_is_409_and_one_account(
    templates: Harness,
) -> None:
    token = await templates.app_token()
    first = await templates.create_member(token)
    assert first.status_code == 201
    account = first.json()
    assert account["id"].startswith("acc_")
    assert account["external_id"] == "acme.myshopify.com"
    again = await templates.create_member(token)
    assert again.status_code == 409
    assert again.json()["existing_id"] == account["id"]
    assert len((await templates.control("GET", "accounts"))["data"]) == 1
    counters = (await templates.control("GET", "counters"))["writes"]
    assert counters["POST /api/v1/accounts"]["responses"] == {"201": 1, "409": 1}


async def test_invalid_account_is_422(templates: Harness) -> None:
    response = await templates.create_member(await templates.app_token(), email="nope")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["email"]


async def test_find_account_by_external_id_and_paginate(templates: Harness) -> None:
    token = await templates.app_token()
    for i in range(3):
        await templates.create_member(token, f"t{i}.myshopify.com")
    found = await templates.http.get(
        "/api/v1/accounts", params={"external_id": "t1.myshopify.com"}, headers=bearer(token)
    )
    assert [a["external_id"] for a in found.json()["data"]] == ["t1.myshopify.com"]
    first = (
        await templates.http.get("/api/v1/accounts", params={"limit": "2"}, headers=bearer(token))
    ).json()
    assert len(first["data"]) == 2
    rest = (
        await templates.http.get(
            "/api/v1/accounts", params={"cursor": first["next_cursor"]}, headers=bearer(token)
        )
    ).json()
    assert [a["external_id"] for a in rest["data"]] == ["t2.myshopify.com"]
    assert rest["next_cursor"] is None


async def test_authlib_client_gets_an_account_token_with_the_jwt_bearer_grant(
    templates: Harness,
) -> None:
    account = await templates.new_member()
    token = await templates.oauth_client().fetch_token(
        templates.token_url,
        grant_type=JWT_BEARER,
        assertion=templates.assertion_for(account["id"]),
    )
    response = await templates.http.get(
        f"/api/v1/accounts/{account['id']}", headers=bearer(token["access_token"])
    )
    assert response.status_code == 200
    assert response.json() == account


async def test_assertion_for_the_crm_audience_is_refused(templates: Harness) -> None:
    account = await templates.new_member()
    assertion = templates.assertion_for(account["id"], audience="http://127.0.0.1:8002/oauth/token")
    response = await templates.jwt_bearer(assertion)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_expired_account_token_is_401(templates: Harness) -> None:
    account = await templates.new_member()
    token = await templates.user_token(account["id"])
    templates.clock.advance(3600)
    response = await templates.http.get(f"/api/v1/accounts/{account['id']}", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


async def test_template_service_start_page_and_health(templates: Harness) -> None:
    await templates.new_member("listed.myshopify.com")
    page = await templates.http.get("/")
    assert "Template service sandbox" in page.text
    assert "listed.myshopify.com" in page.text
    health = await templates.http.get("/healthz")
    assert health.json() == {"status": "ok", "service": "templates"}
