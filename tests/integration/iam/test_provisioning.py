"""Automatic sign-up to the CRM and the template service, against the sandboxes over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from iam.deep_link import crm_login_url
from iam.provisioning import setup_progress
from iam.tables import AccountStatus, ExternalAccount
from tests.integration.iam.support import clients_of, csrf_token, install_shop, make_queued_jobs_due, sign_in
from tests.stack import CRM_URL, Stack, running_stack

SHOP = "demo-store.myshopify.com"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        yield running


async def installed(stack: Stack) -> None:
    minted = await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")
    await install_shop(stack.app, SHOP, access_token=minted.json()["access_token"])


async def test_install_signs_the_merchant_up_to_both_services_once(stack: Stack) -> None:
    await installed(stack)
    await stack.drain()
    progress = {item.system: item.status for item in await setup_progress(SHOP)}
    assert progress == {"crm": AccountStatus.READY, "templates": AccountStatus.READY}
    users = (await stack.crm.get("/_sandbox/users")).json()
    accounts = (await stack.templates.get("/_sandbox/accounts")).json()
    assert [user["external_id"] for user in users["data"]] == [SHOP]
    assert [account["external_id"] for account in accounts["data"]] == [SHOP]
    stored = (
        await ExternalAccount.select(ExternalAccount.access_token)
        .where(ExternalAccount.system == "crm")
        .first()
    )
    assert stored is not None
    assert stored["access_token"].startswith("v1.")  # a vault ciphertext, not the token


async def test_second_setup_run_never_creates_a_second_user(stack: Stack) -> None:
    await installed(stack)
    await stack.drain()
    await installed(stack)  # a reinstall queues the whole setup again
    await stack.drain()
    users = (await stack.crm.get("/_sandbox/users")).json()["data"]
    assert len(users) == 1
    counters = (await stack.crm.get("/_sandbox/counters")).json()["writes"]
    assert counters["POST /api/v1/users"]["responses"] == {"201": 1}


async def test_provisioning_retries_through_crm_faults(stack: Stack) -> None:
    await stack.crm.post("/_sandbox/faults", json={"kind": "http_500", "count": 2, "path_prefix": "/api/"})
    await installed(stack)
    await stack.drain()
    crm = next(item for item in await setup_progress(SHOP) if item.system == "crm")
    assert crm.status == "pending"
    assert crm.message is not None
    assert "We keep trying" in crm.message
    for _ in range(3):
        await make_queued_jobs_due()
        await stack.drain()
    crm = next(item for item in await setup_progress(SHOP) if item.system == "crm")
    assert crm.status == AccountStatus.READY
    assert len((await stack.crm.get("/_sandbox/users")).json()["data"]) == 1


async def test_provisioning_that_keeps_failing_is_shown_and_can_be_retried(stack: Stack) -> None:
    await stack.templates.post(
        "/_sandbox/faults", json={"kind": "http_500", "count": 100, "path_prefix": "/"}
    )
    await installed(stack)
    for _ in range(8):
        await make_queued_jobs_due()
        await stack.drain()
    templates = next(item for item in await setup_progress(SHOP) if item.system == "templates")
    assert templates.status == AccountStatus.FAILED

    await sign_in(stack.client, SHOP)
    page = await stack.client.get("/setup/")
    assert "Failed" in page.text
    assert "Try again" in page.text

    await stack.templates.delete("/_sandbox/faults")
    retry = await stack.client.post("/setup/retry", headers={"x-csrftoken": await csrf_token(stack.client)})
    assert retry.status_code == 303
    await stack.drain()
    templates = next(item for item in await setup_progress(SHOP) if item.system == "templates")
    assert templates.status == AccountStatus.READY


async def test_crm_login_link_is_single_use_and_short_lived(stack: Stack) -> None:
    await installed(stack)
    await stack.drain()
    url = await crm_login_url(clients_of(stack.app), SHOP)
    path = url.removeprefix("http://crm.test")
    first = await stack.crm.get(path)
    assert first.status_code == 200
    assert "Signed in to the CRM" in first.text
    assert (await stack.crm.get(path)).status_code == 410

    late = (await crm_login_url(clients_of(stack.app), SHOP)).removeprefix("http://crm.test")
    stack.clock.advance(61)
    expired = await stack.crm.get(late)
    assert expired.status_code == 410
    assert "expired" in expired.text


async def test_open_crm_answers_303_to_a_login_link_that_is_never_logged(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    await installed(stack)
    await stack.drain()
    await sign_in(stack.client, SHOP)
    dashboard = await stack.client.get("/app/")
    assert "Open CRM" in dashboard.text

    refused = await stack.client.post("/crm/open")
    assert refused.status_code == 403

    response = await stack.client.post("/crm/open", headers={"x-csrftoken": await csrf_token(stack.client)})
    assert response.status_code == 303
    assert response.headers["cache-control"] == "no-store"
    link = response.headers["location"]
    assert link.startswith(f"{CRM_URL}/login/")
    landing = await stack.crm.get(link.removeprefix(CRM_URL))
    assert "Signed in to the CRM" in landing.text
    assert SHOP in landing.text
    secret_part = link.rsplit("/", 1)[1]
    assert secret_part not in capsys.readouterr().out


async def test_open_crm_before_the_account_is_ready_explains_why(stack: Stack) -> None:
    await installed(stack)  # setup queued, not run
    await sign_in(stack.client, SHOP)
    headers = {"x-csrftoken": await csrf_token(stack.client), "accept": "text/html"}
    response = await stack.client.post("/crm/open", headers=headers)
    assert response.status_code == 503
    assert "still being set up" in response.text
