"""CRM login links: minted with a user token, single use, at most 60 s, never revealed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sandbox.tests.integration.crm.sandbox_crm_support import CRM_URL, Harness, bearer, running_crm


@pytest.fixture
async def crm() -> AsyncIterator[Harness]:
    async with running_crm() as harness:
        yield harness


async def mint(crm: Harness, body: dict[str, Any] | None = None) -> dict[str, Any]:
    user = await crm.new_member()
    token = await crm.user_token(user["id"])
    response = await crm.http.post("/api/v1/login-links", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


def path_of(url: str) -> str:
    assert url.startswith(f"{CRM_URL}/login/")
    return url.removeprefix(CRM_URL)


async def test_login_link_lives_at_most_60_seconds(crm: Harness) -> None:
    link = await mint(crm, {"redirect_path": "/settings/payment-processors"})
    assert link["expires_in"] == 60
    expires_at = datetime.fromisoformat(link["expires_at"].replace("Z", "+00:00")).timestamp()
    assert 0 < expires_at - crm.clock() <= 60
    assert len(path_of(link["url"]).removeprefix("/login/")) >= 32


async def test_login_link_signs_in_once_then_answers_410(crm: Harness) -> None:
    link = await mint(crm, {"redirect_path": "/settings/payment-processors"})
    first = await crm.http.get(path_of(link["url"]))
    assert first.status_code == 200
    assert "Signed in to the CRM as Acme Owner (acme.myshopify.com)" in first.text
    assert "/settings/payment-processors" in first.text
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"
    second = await crm.http.get(path_of(link["url"]))
    assert second.status_code == 410
    assert "This sign-in link has already been used" in second.text


async def test_login_link_expires_after_60_seconds(crm: Harness) -> None:
    link = await mint(crm)
    crm.clock.advance(60)
    response = await crm.http.get(path_of(link["url"]))
    assert response.status_code == 410
    assert "This sign-in link has expired" in response.text


async def test_login_link_still_works_just_before_expiry(crm: Harness) -> None:
    link = await mint(crm)
    crm.clock.advance(59)
    assert (await crm.http.get(path_of(link["url"]))).status_code == 200


async def test_unknown_login_link_is_404(crm: Harness) -> None:
    response = await crm.http.get("/login/not-a-real-token")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]


async def test_shorter_configured_lifetime_is_honoured() -> None:
    async with running_crm(login_link_ttl=30) as crm:
        link = await mint(crm)
        assert link["expires_in"] == 30
        crm.clock.advance(30)
        assert (await crm.http.get(path_of(link["url"]))).status_code == 410


async def test_app_token_cannot_mint_login_links(crm: Harness) -> None:
    response = await crm.http.post("/api/v1/login-links", json={}, headers=bearer(await crm.app_token()))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    "redirect_path", ["//evil.example/x", "https://evil.example", "settings", "/\\evil", 7]
)
async def test_redirect_path_off_the_crm_is_422(crm: Harness, redirect_path: object) -> None:
    user = await crm.new_member()
    token = await crm.user_token(user["id"])
    response = await crm.http.post(
        "/api/v1/login-links", json={"redirect_path": redirect_path}, headers=bearer(token)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "redirect_path"


async def test_control_api_shows_link_status_but_never_the_token(crm: Harness) -> None:
    link = await mint(crm)
    secret = path_of(link["url"]).removeprefix("/login/")
    listed = await crm.control("GET", "login-links")
    assert [entry["status"] for entry in listed["data"]] == ["active"]
    assert secret not in str(listed)
    await crm.http.get(path_of(link["url"]))
    listed = await crm.control("GET", "login-links")
    assert [entry["status"] for entry in listed["data"]] == ["used"]


async def test_login_link_token_is_not_written_to_the_state_file(tmp_path: Path) -> None:
    state_file = tmp_path / "crm.json"
    async with running_crm(state_file=state_file) as crm:
        link = await mint(crm)
    secret = path_of(link["url"]).removeprefix("/login/")
    assert secret not in state_file.read_text()


async def test_link_is_single_use_across_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "crm.json"
    async with running_crm(state_file=state_file) as crm:
        link = await mint(crm)
        assert (await crm.http.get(path_of(link["url"]))).status_code == 200
        clock, key = crm.clock, crm.key
    async with running_crm(state_file=state_file, clock=clock, key=key) as restarted:
        assert (await restarted.http.get(path_of(link["url"]))).status_code == 410
