"""Automatic sign-up to the CRM and the template service, against the sandboxes over ASGI."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import time_machine

from iam.provisioning import setup_progress
from iam.tables import AccountStatus, ExternalAccount
from tests.support.shops import SHOP, csrf_token, installed, make_queued_jobs_due, sign_in
from tests.support.stack import Stack, running_stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        yield running


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


async def test_a_rate_limited_token_endpoint_is_waited_for_not_taken_as_a_refusal(stack: Stack) -> None:
    # The CRM's 429 carries a JSON body ({"error": "rate_limited"}); read as a refused grant it
    # would end the sign-up at once.
    await stack.crm.post(
        "/_sandbox/faults",
        json={"kind": "rate_limit", "count": 1, "path_prefix": "/oauth/token", "seconds": 0},
    )
    await installed(stack)
    await stack.drain()
    crm = next(item for item in await setup_progress(SHOP) if item.system == "crm")
    assert crm.status == AccountStatus.PENDING
    with time_machine.travel(time.time() + 2, tick=True):  # past the Retry-After second
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
