"""A live funnel on the in-process stack, and helpers to act on either side and wait for the sync."""

from __future__ import annotations

import asyncio
from typing import Any

from jobqueue.tables import InboxEvent
from tests.integration.funnels.test_publish import add_payment_processor, complete_wizard, crm_user_id
from tests.integration.funnels.test_wizard_first_steps import SHOP, post_form
from tests.integration.iam.support import install_shop, sign_in
from tests.stack import Stack

T_SHIRT_PRODUCT, T_SHIRT_VARIANT = "8000000000002", "8000000000008"
T_SHIRT_GID = f"gid://shopify/ProductVariant/{T_SHIRT_VARIANT}"


async def live_funnel(stack: Stack) -> int:
    """Installs the shop through its webhooks and CRM account, and publishes one funnel."""
    token = (await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")).json()["access_token"]
    await install_shop(stack.app, SHOP, access_token=token)
    await settle(stack)
    await sign_in(stack.client, SHOP)
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    await settle(stack)
    return funnel_id


async def settle(stack: Stack, rounds: int = 6) -> None:
    """Runs the worker until webhooks (delivered in the background by both sandboxes) stop coming."""
    for _ in range(rounds):
        before = await InboxEvent.count()
        await stack.drain()
        for _ in range(30):  # give background deliveries their moment
            await asyncio.sleep(0.01)
        if await InboxEvent.count() == before and not await stack.drain():
            return


async def shopify_graphql(
    stack: Stack, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    token = (await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")).json()["access_token"]
    answer = await stack.shopify.post(
        f"/shops/{SHOP}/admin/api/2026-10/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token},
    )
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


async def crm_product(stack: Stack, variant_gid: str = T_SHIRT_GID) -> dict[str, Any]:
    products = (await stack.crm.get("/_sandbox/products")).json()["data"]
    return dict(next(p for p in products if p["external_id"] == variant_gid))


async def crm_writes(stack: Stack) -> dict[str, int]:
    counts: dict[str, int] = (await stack.crm.get("/_sandbox/writes")).json()
    return counts


async def user_id(stack: Stack) -> str:
    return await crm_user_id(stack)
