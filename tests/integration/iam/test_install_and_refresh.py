"""The whole Shopify install and token refresh against the Shopify sandbox over ASGI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from iam.provisioning import setup_progress
from iam.tables import AccountStatus, MerchantSession, Shop
from iam.tokens import shop_access_token
from lib.clock import utcnow
from sync.subscriptions import WEBHOOKS_QUERY
from sync.topics import SHOPIFY_WEBHOOK_TOPICS
from tests.integration.iam.support import clients_of, iam_of
from tests.stack import SHOPIFY_URL, Stack, running_stack

SHOP = "demo-store.myshopify.com"
SHOP_QUERY = "{ shop { name } }"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        yield running


async def approve(stack: Stack, authorize_url: str) -> httpx.Response:
    """Presses "Install app" on the consent page: its form posts the query's values."""
    parts = urlsplit(authorize_url)
    return await stack.shopify.post(parts.path, data=dict(parse_qsl(parts.query)))


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def install_through_shopify(stack: Stack) -> httpx.Response:
    """What the merchant's browser does: Shopify admin -> app -> consent -> app callback."""
    link = (await stack.shopify.get(f"/_sandbox/shops/{SHOP}/install-link")).json()["url"]
    to_shopify = await stack.client.get(path_of(link))
    assert to_shopify.status_code == 302, to_shopify.text
    authorize = to_shopify.headers["location"]
    assert authorize.startswith(f"{SHOPIFY_URL}/shops/{SHOP}/admin/oauth/authorize?")
    consent = await stack.shopify.get(path_of(authorize))
    assert consent.status_code == 200
    assert "write_products" in consent.text
    approved = await approve(stack, authorize)
    assert approved.status_code == 302
    return await stack.client.get(path_of(approved.headers["location"]))


async def subscribed_topics(stack: Stack) -> list[str]:
    """The shop's webhook subscriptions, read through the app's own GraphQL client."""
    shopify = await clients_of(stack.app).shopify_for(SHOP)
    result = await shopify.graphql(WEBHOOKS_QUERY)
    return [str(node["topic"]) for node in result.data["webhookSubscriptions"]["nodes"]]


async def refreshes(stack: Stack) -> list[dict[str, object]]:
    answer = await stack.shopify.get("/_sandbox/oauth/requests", params={"grant_type": "refresh_token"})
    requests: list[dict[str, object]] = answer.json()["requests"]
    return requests


async def test_install_stores_encrypted_expiring_tokens_and_sets_up_the_shop(stack: Stack) -> None:
    callback = await install_through_shopify(stack)
    assert callback.status_code == 302
    assert callback.headers["location"] == "/setup"
    shop = await Shop.select().where(Shop.domain == SHOP).first()
    assert shop is not None
    assert shop["access_token"].startswith("v1.")
    assert "shpat_" not in shop["access_token"]
    assert shop["refresh_token"].startswith("v1.")
    assert shop["access_token_expires_at"] > utcnow() + timedelta(minutes=50)
    assert shop["refresh_token_expires_at"] > utcnow() + timedelta(days=80)
    assert await MerchantSession.count().where(MerchantSession.shop_domain == SHOP) == 1

    setup_page = await stack.client.get("/setup/")
    assert "Setting up your CRM and page builder accounts" in setup_page.text
    await stack.drain()
    assert {item.status for item in await setup_progress(SHOP)} == {AccountStatus.READY}
    assert sorted(await subscribed_topics(stack)) == sorted(SHOPIFY_WEBHOOK_TOPICS)
    done = await stack.client.get("/setup/progress")
    assert "Your accounts are ready" in done.text


async def test_reinstall_keeps_the_shop_and_registers_no_duplicate_webhooks(stack: Stack) -> None:
    await install_through_shopify(stack)
    await stack.drain()
    first_id = (await Shop.select(Shop.id).first() or {})["id"]
    await install_through_shopify(stack)
    await stack.drain()
    assert await Shop.count() == 1
    assert (await Shop.select(Shop.id).first() or {})["id"] == first_id
    assert sorted(await subscribed_topics(stack)) == sorted(SHOPIFY_WEBHOOK_TOPICS)
    assert len((await stack.crm.get("/_sandbox/users")).json()["data"]) == 1


async def test_missing_scopes_are_shown_and_nothing_is_stored(stack: Stack) -> None:
    await stack.shopify.put(
        f"/_sandbox/shops/{SHOP}/oauth/granted-scopes", json={"scopes": ["write_products", "read_customers"]}
    )
    callback = await install_through_shopify(stack)
    assert callback.status_code == 403
    assert "did not grant every permission" in callback.text
    assert "write_orders" in callback.text
    assert await Shop.count() == 0


async def test_token_endpoint_5xx_is_shown_and_nothing_is_stored(stack: Stack) -> None:
    body = {"kind": "http_500", "count": 1, "shop": SHOP, "path": "oauth"}
    assert (await stack.shopify.post("/_sandbox/faults", json=body)).status_code in (200, 201)
    callback = await install_through_shopify(stack)
    assert callback.status_code == 400
    assert "Shopify did not confirm the installation" in callback.text
    assert await Shop.count() == 0


async def test_code_already_used_is_refused(stack: Stack) -> None:
    link = (await stack.shopify.get(f"/_sandbox/shops/{SHOP}/install-link")).json()["url"]
    authorize = (await stack.client.get(path_of(link))).headers["location"]
    callback_url = (await approve(stack, authorize)).headers["location"]
    # Someone replays the code through a fresh install attempt of their own.
    await stack.shopify.post(
        f"/shops/{SHOP}/admin/oauth/access_token",
        data={
            "client_id": "dev-shopify-key",
            "client_secret": "dev-shopify-secret",
            "code": dict(parse_qsl(urlsplit(callback_url).query))["code"],
        },
    )
    callback = await stack.client.get(path_of(callback_url))
    assert callback.status_code == 400
    assert await Shop.count() == 0


async def test_expired_token_is_refreshed_transparently_on_401(stack: Stack) -> None:
    await install_through_shopify(stack)
    before = (await Shop.select(Shop.refresh_token).first() or {})["refresh_token"]
    await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens/expire")
    graphql_answers: list[int] = []

    async def record(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/graphql.json"):
            graphql_answers.append(response.status_code)

    http = iam_of(stack.app).shopify.http
    http.event_hooks["response"].append(record)
    try:
        shopify = await clients_of(stack.app).shopify_for(SHOP)
        result = await shopify.graphql(SHOP_QUERY)
    finally:
        http.event_hooks["response"].remove(record)
    assert result.data["shop"]["name"] == "Demo Store"
    assert graphql_answers == [401, 200]  # refused once, sent again once with the fresh token
    assert len(await refreshes(stack)) == 1
    after = (await Shop.select(Shop.refresh_token).first() or {})["refresh_token"]
    assert after != before  # the rotated pair replaced the spent one


async def test_token_near_expiry_is_refreshed_once_for_concurrent_callers(stack: Stack) -> None:
    await install_through_shopify(stack)
    await Shop.update({Shop.access_token_expires_at: utcnow() + timedelta(minutes=1)}).where(
        Shop.domain == SHOP
    )
    iam = iam_of(stack.app)
    tokens = await asyncio.gather(*(shop_access_token(iam, SHOP) for _ in range(5)))
    assert len(set(tokens)) == 1
    outcomes = await refreshes(stack)
    assert len(outcomes) == 1
    # The next call uses the stored new token without refreshing again.
    assert await shop_access_token(iam, SHOP) == tokens[0]
    assert len(await refreshes(stack)) == 1


async def test_a_rotated_away_refresh_token_is_never_reused(stack: Stack) -> None:
    await install_through_shopify(stack)
    iam = iam_of(stack.app)
    for _ in range(3):
        await Shop.update({Shop.access_token_expires_at: utcnow()}).where(Shop.domain == SHOP)
        await shop_access_token(iam, SHOP)
    outcomes = [row["outcome"] for row in await refreshes(stack)]
    assert len(outcomes) == 3
    assert all(outcome == "issued" for outcome in outcomes), outcomes


async def test_sign_in_issues_a_new_session_id_so_a_planted_one_is_useless(stack: Stack) -> None:
    planted = "attacker-knows-this-session-id"
    stack.client.cookies.set("funnelsync_session", planted)
    callback = await install_through_shopify(stack)
    cookie = next(
        v for k, v in callback.headers.multi_items() if k == "set-cookie" and "funnelsync_session=" in v
    )
    issued = cookie.split("funnelsync_session=", 1)[1].split(";", 1)[0]
    assert issued not in (planted, "null")
    assert await MerchantSession.count().where(MerchantSession.key == planted) == 0
    assert await MerchantSession.count().where(MerchantSession.key == issued) == 1
