"""The one-click sign-in to the CRM (iam/deep_link.py): a single-use, short-lived login link, minted
on demand by the Open CRM button, never logged, and explained while the account is being set up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from iam.deep_link import crm_login_url
from tests.support.shops import SHOP, clients_of, csrf_token, installed, sign_in
from tests.support.stack import CRM_URL, Stack, running_stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        yield running


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
