"""Funnel drafts and the plan's limits: publishing past them is refused with how to upgrade."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from billing.services import entitlements
from funnels.tables import Funnel
from tests.support.funnel_wizard import (
    accounts_ready_and_signed_in,
    add_payment_processor,
    complete_wizard,
    post_form,
)
from tests.support.shops import SHOP
from tests.support.stack import Stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with accounts_ready_and_signed_in(database_url) as running:
        yield running


async def test_free_plan_limits_publish_and_say_how_to_upgrade(stack: Stack) -> None:
    assert (await entitlements(SHOP)).plan_code == "free"
    await add_payment_processor(stack)
    first = await complete_wizard(stack, subdomain="first-one")
    await post_form(stack, f"/funnels/{first}/publish")
    await stack.drain()
    second = await complete_wizard(stack, subdomain="second-one")
    refused = await post_form(stack, f"/funnels/{second}/publish")
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "allows 1 live funnel" in refused.text  # type: ignore[attr-defined]
    assert f'href="/billing/?then=/funnels/{second}/review"' in refused.text  # type: ignore[attr-defined]
    assert await Funnel.count().where(Funnel.status == "publishing") == 0
