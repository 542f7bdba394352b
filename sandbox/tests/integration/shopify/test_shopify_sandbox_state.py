"""State: a restart with a state file keeps shops, tokens, products and subscriptions;
reset goes back to the seed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx

from sandbox.shopify import ShopifySandboxConfig, create_shopify_sandbox
from sandbox.tests.integration.shopify.shopify_sandbox_support import (
    MAIN_SHOP,
    AdminApi,
    asgi_client,
    mint_token,
    running,
)

CREATE = 'mutation { productCreate(product: {title: "Persistent Pot"}) { product { id } } }'
SUBSCRIBE = """mutation { webhookSubscriptionCreate(topic: PRODUCTS_UPDATE,
  webhookSubscription: {callbackUrl: "http://receiver.test/hooks"}) { webhookSubscription { id } } }"""


async def test_state_file_survives_a_restart(
    make_config: Callable[..., ShopifySandboxConfig], state_file: Path
) -> None:
    config = make_config(state_file=state_file)
    first = create_shopify_sandbox(config)
    async with running(first), asgi_client(first) as client:
        token = await mint_token(client, MAIN_SHOP)
        api = AdminApi(client, MAIN_SHOP, token)
        product_id = (await api.graphql(CREATE))["data"]["productCreate"]["product"]["id"]
        await api.graphql(SUBSCRIBE)
        plan = await client.put(f"/_sandbox/shops/{MAIN_SHOP}/plan", json={"tier": "plus"})
        assert plan.status_code == 200
    assert await asyncio.to_thread(state_file.exists)

    second = create_shopify_sandbox(config)
    async with running(second), asgi_client(second) as client:
        api = AdminApi(client, MAIN_SHOP, token)
        body = await api.graphql(
            "query($id: ID!) { product(id: $id) { title } shop { plan { shopifyPlus } } "
            "webhookSubscriptions(first: 5) { nodes { uri } } }",
            {"id": product_id},
        )
        assert body["data"]["product"] == {"title": "Persistent Pot"}
        assert body["data"]["shop"]["plan"]["shopifyPlus"] is True
        assert body["data"]["webhookSubscriptions"]["nodes"] == [{"uri": "http://receiver.test/hooks"}]


async def test_without_a_state_file_a_restart_starts_from_the_seed(
    make_config: Callable[..., ShopifySandboxConfig],
) -> None:
    config = make_config()
    first = create_shopify_sandbox(config)
    async with running(first), asgi_client(first) as client:
        token = await mint_token(client, MAIN_SHOP)
    second = create_shopify_sandbox(config)
    async with running(second), asgi_client(second) as client:
        response = await AdminApi(client, MAIN_SHOP, token).post("{ shop { name } }")
        assert response.status_code == 401


async def test_reset_restores_the_seed(client: httpx.AsyncClient, admin: AdminApi) -> None:
    seeded = (await client.get(f"/_sandbox/shops/{MAIN_SHOP}")).json()
    await admin.graphql(CREATE)
    assert (await client.get(f"/_sandbox/shops/{MAIN_SHOP}")).json()["productCount"] == seeded[
        "productCount"
    ] + 1
    response = await client.post("/_sandbox/reset")
    assert response.status_code == 200
    after = (await client.get(f"/_sandbox/shops/{MAIN_SHOP}")).json()
    assert after["productCount"] == seeded["productCount"]
    # Tokens go with the reset, as after reinstalling into a fresh store.
    assert (await admin.post("{ shop { name } }")).status_code == 401


async def test_seed_is_deterministic(make_config: Callable[..., ShopifySandboxConfig]) -> None:
    catalogues = []
    for _ in range(2):
        app = create_shopify_sandbox(make_config())
        async with running(app), asgi_client(app) as client:
            api = AdminApi(client, MAIN_SHOP, await mint_token(client, MAIN_SHOP))
            body = await api.graphql(
                "{ productVariants(first: 250) { nodes { id sku price inventoryQuantity } } }"
            )
            catalogues.append(body["data"]["productVariants"]["nodes"])
    assert catalogues[0] == catalogues[1]
    assert len(catalogues[0]) >= 100
