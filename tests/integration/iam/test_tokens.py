"""Shopify tokens (iam/tokens.py): an expired one refreshed on a 401, one refresh for concurrent callers
near expiry, a rotated-away refresh token never sent again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from iam.tables import Shop
from iam.tokens import shop_access_token
from lib.clock import utcnow
from tests.support.oauth_install import install_through_shopify
from tests.support.shops import SHOP, clients_of, iam_of
from tests.support.stack import Stack, running_stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        yield running


SHOP_QUERY = "{ shop { name } }"


async def refreshes(stack: Stack) -> list[dict[str, object]]:
    answer = await stack.shopify.get("/_sandbox/oauth/requests", params={"grant_type": "refresh_token"})
    requests: list[dict[str, object]] = answer.json()["requests"]
    return requests


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
