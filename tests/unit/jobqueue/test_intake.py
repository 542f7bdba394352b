"""CRM webhooks name an account: the intake remembers the account's shop once it is found.
A body nested too deep to parse is a 400 on every route, the sender's own check included."""

from __future__ import annotations

import json
from collections.abc import Mapping

from shopify_app import ShopifyApp

from jobqueue.inbox import InboxWriter, IncomingEvent
from jobqueue.intake import ShopsOfCrmAccounts, WebhookIntake, WebhookRequest


class Directory:
    """The accounts the database would know, counting how often it is asked."""

    def __init__(self, shops: dict[str, str]) -> None:
        self.shops = shops
        self.asked: list[str] = []

    async def __call__(self, account_id: str) -> str | None:
        self.asked.append(account_id)
        return self.shops.get(account_id)


async def test_a_found_account_is_looked_up_once() -> None:
    directory = Directory({"usr_1": "one.myshopify.com"})
    shops = ShopsOfCrmAccounts(directory)
    assert [await shops("usr_1") for _ in range(3)] == ["one.myshopify.com"] * 3
    assert directory.asked == ["usr_1"]


async def test_an_account_not_found_yet_is_asked_again_and_remembered_once_it_exists() -> None:
    # Events can come while the install is still creating the account.
    directory = Directory({})
    shops = ShopsOfCrmAccounts(directory)
    assert await shops("usr_2") is None
    directory.shops["usr_2"] = "two.myshopify.com"
    assert await shops("usr_2") == "two.myshopify.com"
    assert await shops("usr_2") == "two.myshopify.com"
    assert directory.asked == ["usr_2", "usr_2"]


async def test_the_memory_stays_within_its_bound() -> None:
    directory = Directory({f"usr_{n}": f"shop-{n}.myshopify.com" for n in range(5)})
    shops = ShopsOfCrmAccounts(directory, max_entries=2)
    for n in range(5):
        assert await shops(f"usr_{n}") == f"shop-{n}.myshopify.com"
    assert len(shops._known) <= 2
    assert await shops("usr_4") == "shop-4.myshopify.com"


async def no_account(account_id: str) -> str | None:
    return None


async def parses_with_json(headers: Mapping[str, str], body: bytes, /) -> IncomingEvent:
    """A sender's check that parses the body as the Stripe SDK does (json.loads)."""
    json.loads(body)
    raise AssertionError("a body this deep never parses")


async def test_a_body_too_deep_for_the_senders_own_check_is_400() -> None:
    intake = WebhookIntake(
        InboxWriter(),
        lambda: None,
        shopify_app=ShopifyApp("k", "s"),
        crm_secrets=[],
        shop_of_crm_account=no_account,
        stripe_verifier=parses_with_json,
    )
    deep = b"[" * 100_000 + b"]" * 100_000
    assert await intake.stripe(WebhookRequest({}, deep)) == (400, {"error": "not a JSON event"})
