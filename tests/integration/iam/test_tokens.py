"""Shopify tokens (iam/tokens.py): an expired one refreshed on a 401, one refresh for concurrent callers
near expiry, a rotated-away refresh token never sent again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest
import time_machine

from iam.app_home import ensure_connected, package_request, verify_app_home
from iam.tables import Shop
from iam.tokens import ACCESS_RECHECK, SHOPIFY_ACCESS_EXPIRED, shop_access_token
from jobqueue.jobs import enqueue
from jobqueue.tables import Job, JobStatus
from lib.clock import utcnow
from sync.activity import sync_health
from sync.topics import JOB_IMPORT_CATALOG
from tests.support.id_tokens import app_home_query, id_token
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


async def refresh_outcomes(stack: Stack) -> list[object]:
    return [request["outcome"] for request in await refreshes(stack)]


async def waiting_job() -> dict[str, object]:
    row = await Job.select(Job.status, Job.attempts, Job.last_error, Job.run_at, Job.waiting_since).first()
    assert row is not None
    return row


async def test_a_shops_jobs_wait_without_calling_shopify_once_its_access_is_lost_and_resume_on_reconnect(
    stack: Stack,
) -> None:
    await install_through_shopify(stack)
    await Job.delete(force=True)  # the install's own set-up is not what this test watches
    await enqueue(JOB_IMPORT_CATALOG, {}, shop_domain=SHOP)
    # Shopify stops accepting the shop's tokens (refresh token expired or revoked); ours is due.
    await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens/revoke")
    await Shop.update({Shop.access_token_expires_at: utcnow()}).where(Shop.domain == SHOP)
    iam = iam_of(stack.app)

    with time_machine.travel(utcnow(), tick=True) as traveller:
        assert await stack.app.state.worker.run_once()
        first = await waiting_job()
        assert first["status"] == JobStatus.QUEUED
        assert first["attempts"] == 0  # waiting is not failing
        assert first["last_error"] == SHOPIFY_ACCESS_EXPIRED
        assert await refresh_outcomes(stack) == ["invalid_grant"]
        health = await sync_health(SHOP, utcnow())
        assert health.shopify_access_lost_at is not None
        assert health.shopify_access_lost == (
            "Shopify access expired: open the app in your Shopify admin to reconnect"
        )

        # Looking again later calls Shopify no more: the tokens are gone.
        traveller.shift(ACCESS_RECHECK + timedelta(seconds=1))
        assert await stack.app.state.worker.run_once()
        again = await waiting_job()
        assert (again["status"], again["attempts"]) == (JobStatus.QUEUED, 0)
        assert again["waiting_since"] is not None
        assert await refresh_outcomes(stack) == ["invalid_grant"]

        # The merchant opens the app from the admin: a new token, and the job is due at once.
        url = f"{iam.app_base_url}/app/?{urlencode(app_home_query(SHOP, id_token(SHOP)))}"
        assert await ensure_connected(iam, verify_app_home(iam, package_request("GET", {}, url, "")))
        resumed = await waiting_job()
        assert isinstance(resumed["run_at"], datetime)
        assert resumed["run_at"] <= utcnow()
        assert (await sync_health(SHOP, utcnow())).shopify_access_lost_at is None
