"""Clients bound to a shop, against the sandboxes: the merchant's CRM user renewed once when the
CRM drops its token, accounts not set up told apart, Shopify's userErrors as one error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from billing.services import BillingRefused
from connectors.oauth_service import IssuedToken
from iam.errors import AccountNotReady
from iam.provisioning import account_token, store_account_token
from lib.clock import utcnow
from tests.support.shops import clients_of, iam_of, install_shop
from tests.support.stack import Stack, running_stack

SHOP = "demo-store.myshopify.com"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        minted = await running.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")
        await install_shop(running.app, SHOP, access_token=minted.json()["access_token"])
        yield running


async def test_an_account_not_set_up_yet_is_account_not_ready(stack: Stack) -> None:
    with pytest.raises(AccountNotReady) as not_ready:
        await clients_of(stack.app).crm_for(SHOP)
    assert (not_ready.value.shop_domain, not_ready.value.system) == (SHOP, "crm")
    with pytest.raises(AccountNotReady):
        await clients_of(stack.app).templates_for("unknown.myshopify.com")


async def test_a_crm_token_dropped_before_its_expiry_is_renewed_once_and_the_call_sent_again(
    stack: Stack,
) -> None:
    await stack.drain()  # the accounts are set up
    iam = iam_of(stack.app)
    remote_id = (await iam.crm.find_account(SHOP) or pytest.fail("no CRM account")).id
    dropped = IssuedToken("dropped-by-the-crm", utcnow() + timedelta(minutes=30))
    await store_account_token(iam, SHOP, "crm", remote_id, dropped, attempts=0)
    answers: list[tuple[str, int]] = []

    async def record(response: httpx.Response) -> None:
        answers.append((response.request.url.path, response.status_code))

    iam.crm.http.event_hooks["response"].append(record)
    try:
        crm = await clients_of(stack.app).crm_for(SHOP)
        processors = await crm.payment_processors()
    finally:
        iam.crm.http.event_hooks["response"].remove(record)
    assert processors == []
    assert answers == [
        ("/api/v1/payment-processors", 401),
        ("/oauth/token", 200),  # one JWT bearer grant
        ("/api/v1/payment-processors", 200),
    ]
    renewed = await account_token(iam, SHOP, "crm")
    assert renewed.access_token != dropped.access_token  # stored for the next binding


async def test_shopify_user_errors_reach_billing_as_its_refusal(stack: Stack) -> None:
    shopify_billing = stack.app.state.billing.of("shopify")
    with pytest.raises(BillingRefused, match=r"^Shopify refused to cancel: Subscription does not exist$"):
        await shopify_billing.cancel(SHOP, {"external_id": "gid://shopify/AppSubscription/424242"})
