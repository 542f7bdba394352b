"""Sync health (funnels/controllers/sync_health.py): what the merchant is told when Shopify no
longer accepts the store's tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from iam.tables import Shop, ShopConnection
from lib.clock import utcnow
from tests.support.funnel_wizard import new_funnel, two_shops_signed_in
from tests.support.shops import SHOP
from tests.support.stack import Stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with two_shops_signed_in(database_url) as running:
        yield running


async def test_a_shop_whose_shopify_access_was_lost_stays_signed_in_and_is_told_to_reconnect(
    stack: Stack,
) -> None:
    funnel_id = await new_funnel(stack)
    page = await stack.client.get(f"/funnels/{funnel_id}/sync/")
    assert "Shopify access expired" not in page.text

    # What iam.tokens records when Shopify refuses the stored pair for good: deleted, and since when.
    await Shop.update(
        {Shop.access_token: None, Shop.refresh_token: None, Shop.access_lost_at: utcnow()}
    ).where(Shop.domain == SHOP)
    page = await stack.client.get(f"/funnels/{funnel_id}/sync/")

    assert page.status_code == 200, page.text
    assert page.text.count("Shopify access expired: open the app in your Shopify admin to reconnect.") == 1
    assert "Changes wait, and sync once you reconnect." in page.text


async def test_a_custom_app_whose_token_was_refused_is_sent_to_connect_again_with_a_new_token(
    stack: Stack,
) -> None:
    funnel_id = await new_funnel(stack)
    # A custom app's Admin API token cannot be exchanged anew from the admin: only a new token helps.
    await Shop.update(
        {
            Shop.connection: ShopConnection.ACCESS_TOKEN,
            Shop.access_token: None,
            Shop.access_lost_at: utcnow(),
        }
    ).where(Shop.domain == SHOP)
    page = await stack.client.get(f"/funnels/{funnel_id}/sync/")

    assert page.status_code == 200, page.text
    assert "Shopify refused your Admin API access token: connect again with a new one." in page.text
    assert "open the app in your Shopify admin" not in page.text
    assert '<a href="/connect/">Connect again</a>' in page.text
