"""Merchant variant edits, reset, and the state file with customers, orders and bulk results."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx

from sandbox.shopify import ShopifySandboxConfig, create_shopify_sandbox
from sandbox.tests.integration.shopify.shopify_sandbox_support import (
    MAIN_SHOP,
    AdminApi,
    WebhookReceiver,
    asgi_client,
    eventually,
    mint_token,
    running,
)
from sandbox.tests.integration.shopify_commerce.commerce_support import (
    SHOP_URL,
    numeric,
    subscribe,
    variant_ids,
    wait_for,
    writes,
)

VARIANT = """query($id: ID!) { productVariant(id: $id) { id price sku product { legacyResourceId } } }"""


async def test_merchant_edits_a_variant(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin, "PRODUCTS_UPDATE")
    variant_id = (await variant_ids(admin, 1))[0]
    variant = (await admin.graphql(VARIANT, {"id": variant_id}))["data"]["productVariant"]
    url = f"{SHOP_URL}/products/{variant['product']['legacyResourceId']}/variants/{numeric(variant_id)}"
    response = await client.put(url, json={"price": "77.00", "sku": "NEW-SKU", "inventoryQuantity": 4})
    assert response.status_code == 200, response.text
    after = (await admin.graphql(VARIANT, {"id": variant_id}))["data"]["productVariant"]
    assert (after["price"], after["sku"]) == ("77.00", "NEW-SKU")
    [payload] = await wait_for(receiver, "products/update")
    changed = next(v for v in payload["variants"] if v["id"] == numeric(variant_id))
    assert (changed["price"], changed["sku"], changed["inventory_quantity"]) == ("77.00", "NEW-SKU", 4)
    negative = await client.put(url, json={"price": "-1"})
    assert negative.status_code == 422
    assert negative.json()["userErrors"][0]["message"] == "Price must be greater than or equal to 0"
    missing = await client.put(
        f"{SHOP_URL}/products/{variant['product']['legacyResourceId']}/variants/1", json={}
    )
    assert missing.status_code == 404


async def test_reset_forgets_customers_orders_bulk_operations_and_writes(
    admin: AdminApi, client: httpx.AsyncClient
) -> None:
    variant = (await variant_ids(admin, 1))[0]
    await admin.graphql('mutation { customerCreate(input: {email: "r@example.com"}) { customer { id } } }')
    order = await client.post(
        f"{SHOP_URL}/orders", json={"email": "r@example.com", "lineItems": [{"variantId": variant}]}
    )
    assert order.json()["name"] == "#1001"
    assert (await writes(client))["writes"] == {"customerCreate": 1}
    assert (await client.post("/_sandbox/reset")).status_code == 200
    admin.token = await mint_token(client, MAIN_SHOP)
    body = await admin.graphql(
        "{ customers(first: 5) { nodes { id } } orders(first: 5) { nodes { id } } "
        "currentBulkOperation { id } }"
    )
    assert body["data"] == {"customers": {"nodes": []}, "orders": {"nodes": []}, "currentBulkOperation": None}
    assert (await writes(client))["writes"] == {}
    again = await client.post(
        f"{SHOP_URL}/orders", json={"email": "r@example.com", "lineItems": [{"variantId": variant}]}
    )
    assert again.json()["name"] == "#1001"


async def test_state_file_keeps_customers_orders_and_bulk_results(
    make_config: Callable[..., ShopifySandboxConfig], tmp_path: Path
) -> None:
    config = make_config(state_file=tmp_path / "shopify.json")
    first = create_shopify_sandbox(config)
    async with running(first), asgi_client(first) as client:
        token = await mint_token(client, MAIN_SHOP)
        api = AdminApi(client, MAIN_SHOP, token)
        variant = (await variant_ids(api, 1))[0]
        order = (
            await client.post(
                f"{SHOP_URL}/orders",
                json={"email": "keep@example.com", "firstName": "Kim", "lineItems": [{"variantId": variant}]},
            )
        ).json()
        run = await api.graphql(
            'mutation { bulkOperationRunQuery(query: "{ customers { edges { node { id email } } } }") '
            "{ bulkOperation { id } } }"
        )
        operation_id = run["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]

        async def completed() -> bool:
            body = await api.graphql("{ currentBulkOperation { status } }")
            return bool(body["data"]["currentBulkOperation"]["status"] == "COMPLETED")

        await eventually(completed)

    second = create_shopify_sandbox(config)
    async with running(second), asgi_client(second) as client:
        api = AdminApi(client, MAIN_SHOP, token)
        body = await api.graphql(
            "query($id: ID!, $op: ID!) { order(id: $id) { name customer { email firstName } } "
            "node(id: $op) { ... on BulkOperation { status url } } }",
            {"id": order["admin_graphql_api_id"], "op": operation_id},
        )
        assert body["data"]["order"] == {
            "name": "#1001",
            "customer": {"email": "keep@example.com", "firstName": "Kim"},
        }
        operation = body["data"]["node"]
        assert operation["status"] == "COMPLETED"
        lines = [json.loads(line) for line in (await client.get(operation["url"])).text.splitlines()]
        assert lines == [{"id": order["customer"]["admin_graphql_api_id"], "email": "keep@example.com"}]
        # Numbering goes on where it stopped.
        next_order = await client.post(
            f"{SHOP_URL}/orders", json={"email": "keep@example.com", "lineItems": [{"variantId": variant}]}
        )
        assert next_order.json()["name"] == "#1002"
