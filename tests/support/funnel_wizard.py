"""A merchant going through the funnel wizard on the in-process stack (tests.support.stack).

The stacks a funnel test starts from, the wizard's forms and their answers, and the
sandboxes' counters that tell how often publishing wrote.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sandbox.shopify.seed import FIRST_ID
from tests.support.shops import OTHER_SHOP, SHOP, csrf_token, installed, sign_in
from tests.support.stack import Stack, running_stack

T_SHIRT = f"gid://shopify/ProductVariant/{FIRST_ID + 8}"  # Classic Cotton T-Shirt, S / White, 19.99
HOODIE = f"gid://shopify/ProductVariant/{FIRST_ID + 41}"  # Organic Hoodie, M / Grey, 56.00
OTHER_SHOPS_VARIANT = f"gid://shopify/ProductVariant/{FIRST_ID + 460}"  # a bottle of demo-advanced

CAMPAIGN = {"name": "Summer launch", "description": "Tees for July", "currency": "USD", "country": "US"}
UPSELL = {
    "headline": "Add a second tee",
    "discount_type": "percentage",
    "discount_value": "20",
    "variant_id": T_SHIRT,
}

# The funnel's one downsell: the hoodie at 30 % off for a shopper who declined it at 20 %.
DOWNSELL = {
    "headline": "Last chance: the hoodie at 30% off",
    "discount_type": "percentage",
    "discount_value": "30",
    "variant_id": HOODIE,
}


@asynccontextmanager
async def two_shops_signed_in(database_url: str) -> AsyncIterator[Stack]:
    """SHOP and OTHER_SHOP installed, SHOP's merchant signed in; their CRM and page builder
    accounts not set up yet (no worker ran)."""
    async with running_stack(database_url) as running:
        for shop in (SHOP, OTHER_SHOP):
            await installed(running, shop)
        await sign_in(running.client, SHOP)
        yield running


@asynccontextmanager
async def accounts_ready_and_signed_in(database_url: str, **setting_overrides: Any) -> AsyncIterator[Stack]:
    """SHOP installed with its CRM and page builder accounts set up, its merchant signed in."""
    async with running_stack(database_url, **setting_overrides) as running:
        await installed(running, SHOP)
        await running.drain()  # CRM and page builder accounts
        await sign_in(running.client, SHOP)
        yield running


async def post_form(stack: Stack, path: str, data: dict[str, str] | None = None) -> object:
    token = await csrf_token(stack.client)
    return await stack.client.post(path, data={**(data or {}), "_csrf_token": token})


async def new_funnel(stack: Stack) -> int:
    response = await post_form(stack, "/funnels/")
    location = response.headers["location"]  # type: ignore[attr-defined]
    match = re.fullmatch(r"/funnels/(\d+)/campaign", location)
    assert match, location
    return int(match.group(1))


async def crm_user_id(stack: Stack) -> str:
    users = (await stack.crm.get("/_sandbox/users")).json()["data"]
    return str(users[0]["id"])


async def add_payment_processor(stack: Stack) -> None:
    user_id = await crm_user_id(stack)
    added = await stack.crm.post(
        f"/_sandbox/users/{user_id}/payment-processors", json={"name": "Stripe", "kind": "stripe"}
    )
    assert added.status_code == 201


async def complete_wizard(stack: Stack, subdomain: str = "summer-tees") -> int:
    funnel_id = await new_funnel(stack)
    await post_form(stack, f"/funnels/{funnel_id}/campaign", CAMPAIGN)
    await post_form(stack, f"/funnels/{funnel_id}/product", {"variant_id": T_SHIRT})
    await post_form(
        stack, f"/funnels/{funnel_id}/upsells", {**UPSELL, "variant_id": HOODIE, "headline": "Add a hoodie"}
    )
    await post_form(stack, f"/funnels/{funnel_id}/upsells/continue")
    template = await stack.client.get(f"/funnels/{funnel_id}/template")
    assert "Classic" in template.text
    chosen = await post_form(stack, f"/funnels/{funnel_id}/template", {"template_id": "tpl_classic_sales"})
    assert chosen.headers["location"] == f"/funnels/{funnel_id}/hosting"  # type: ignore[attr-defined]
    hosted = await post_form(
        stack, f"/funnels/{funnel_id}/hosting", {"host_kind": "subdomain", "subdomain": subdomain}
    )
    assert hosted.headers["location"] == f"/funnels/{funnel_id}/review", hosted.text  # type: ignore[attr-defined]
    return funnel_id


async def counters(stack: Stack, sandbox: str) -> dict[str, Any]:
    client = stack.crm if sandbox == "crm" else stack.templates
    writes: dict[str, Any] = (await client.get("/_sandbox/counters")).json()["writes"]
    return writes


def created(writes: dict[str, Any], route: str) -> int:
    return int(writes.get(route, {}).get("responses", {}).get("201", 0))
