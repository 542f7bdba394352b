"""With a state file, members, tokens and used assertions survive a restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from sandbox.common.clock import ManualClock
from sandbox.crm import CrmSandboxConfig, create_crm_sandbox
from sandbox.tests.integration.crm.sandbox_crm_support import (
    AppKey,
    Harness,
    bearer,
    running_crm,
    running_templates,
)

PRODUCT = {
    "external_id": "gid://shopify/ProductVariant/1",
    "product_external_id": "gid://shopify/Product/1",
    "sku": "S1",
    "name": "Mug",
    "price": "9.99",
    "currency": "USD",
    "options": {"Color": "Blue"},
}
CAMPAIGN = {"external_id": "f1", "name": "Funnel", "currency": "USD", "country": "US"}
SITE = {
    "external_id": "f1",
    "template_id": "tpl_minimal",
    "host": {"kind": "subdomain", "subdomain": "kept"},
    "content": {"title": "Kept", "main_offer": {"name": "Mug"}},
}

Runner = Callable[..., AbstractAsyncContextManager[Harness]]
RUNNERS = pytest.mark.parametrize("runner", [running_crm, running_templates], ids=["crm", "templates"])


@RUNNERS
async def test_members_and_tokens_survive_a_restart(runner: Runner, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    key, clock = AppKey(), ManualClock()
    async with runner(state_file=state_file, key=key, clock=clock) as before:
        app_token = await before.app_token()
        member = await before.new_member()
        user_token = await before.user_token(member["id"])
    async with runner(state_file=state_file, key=key, clock=clock) as after:
        listed = await after.http.get(f"/api/v1/{after.resource}", headers=bearer(app_token))
        assert [m["id"] for m in listed.json()["data"]] == [member["id"]]
        own = await after.http.get(f"/api/v1/{after.resource}/{member['id']}", headers=bearer(user_token))
        assert own.status_code == 200
        again = await after.create_member(app_token)
        assert again.status_code == 409
        assert again.json()["existing_id"] == member["id"]


@RUNNERS
async def test_used_jti_stays_used_after_a_restart(runner: Runner, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    key, clock = AppKey(), ManualClock()
    async with runner(state_file=state_file, key=key, clock=clock) as before:
        member = await before.new_member()
        assertion = before.assertion_for(member["id"])
        assert (await before.jwt_bearer(assertion)).status_code == 200
    async with runner(state_file=state_file, key=key, clock=clock) as after:
        replay = await after.jwt_bearer(assertion)
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"


@RUNNERS
async def test_state_file_holds_no_access_tokens(runner: Runner, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    async with runner(state_file=state_file) as sandbox:
        token = await sandbox.app_token()
    assert token not in state_file.read_text()


async def test_state_file_is_written_at_start(tmp_path: Path) -> None:
    state_file = tmp_path / "nested" / "crm.json"
    async with running_crm(state_file=state_file):
        assert json.loads(state_file.read_text())["version"] == 1


def test_state_file_of_another_version_is_refused(tmp_path: Path) -> None:
    state_file = tmp_path / "crm.json"
    state_file.write_text(json.dumps({"version": 99}))
    with pytest.raises(ValueError, match="version 99"):
        create_crm_sandbox(CrmSandboxConfig(state_file=state_file))


async def test_crm_resources_and_screen_sessions_survive_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "crm.json"
    key, clock = AppKey(), ManualClock()
    async with running_crm(state_file=state_file, key=key, clock=clock) as before:
        acme = await before.merchant()
        product = await acme.created("/api/v1/products", PRODUCT)
        campaign = await acme.created("/api/v1/campaigns", CAMPAIGN)
        offers = f"/api/v1/campaigns/{campaign['id']}/offers"
        offer = await acme.created(offers, {"external_id": "o", "product_id": product["id"], "kind": "main"})
        processor = await before.control(
            "POST", f"users/{acme.id}/payment-processors", json={"name": "S", "kind": "stripe"}
        )
        links = f"/api/v1/campaigns/{campaign['id']}/payment-processors"
        await acme.put(links, {"processor_ids": [processor["id"]]})
        login = (await acme.post("/api/v1/login-links", {"redirect_path": "/settings"})).json()
        assert (await before.http.get(login["url"].removeprefix(before.base_url))).status_code == 200
        session_cookie = before.http.cookies["crm_session"]
    assert session_cookie not in state_file.read_text()
    async with running_crm(state_file=state_file, key=key, clock=clock) as after:
        token = bearer(acme.token)
        assert (await after.http.get(f"/api/v1/products/{product['id']}", headers=token)).json() == product
        assert (await after.http.get(f"{offers}/{offer['id']}", headers=token)).json() == offer
        linked = (await after.http.get(links, headers=token)).json()
        assert linked["processor_ids"] == [processor["id"]]
        again = await after.http.post("/api/v1/campaigns", json=CAMPAIGN, headers=token)
        assert again.json()["existing_id"] == campaign["id"]
        after.http.cookies.set("crm_session", session_cookie)
        assert (await after.http.get("/settings/payment-processors")).status_code == 200


async def test_template_sites_and_publications_survive_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "templates.json"
    key, clock = AppKey(), ManualClock()
    async with running_templates(state_file=state_file, key=key, clock=clock) as before:
        acme = await before.merchant()
        site = await acme.created("/api/v1/sites", SITE)
        published = (await acme.post(f"/api/v1/sites/{site['id']}/publish")).json()
    async with running_templates(state_file=state_file, key=key, clock=clock) as after:
        token = bearer(acme.token)
        assert (await after.http.get(f"/api/v1/sites/{site['id']}", headers=token)).json() == published
        page = await after.http.get("/p/kept/")
        assert f'content="{site["id"]}"' in page.text
        republished = await after.http.post(f"/api/v1/sites/{site['id']}/publish", headers=token)
        assert republished.json()["version"] == 1
