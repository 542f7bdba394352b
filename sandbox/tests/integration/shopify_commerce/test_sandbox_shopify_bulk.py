"""Bulk query operations end to end (run, poll, webhook, download JSONL), their rules, and
the control API's silent catalogue generator."""

from __future__ import annotations

import json
from typing import Any

import httpx

from sandbox.tests.integration.shopify.shopify_sandbox_support import (
    MAIN_SHOP,
    AdminApi,
    WebhookReceiver,
    eventually,
    mint_token,
)
from sandbox.tests.integration.shopify_commerce.commerce_support import (
    SHOP_URL,
    deliveries,
    hmac_ok,
    settled,
    subscribe,
    wait_for,
)

RUN = """mutation($query: String!, $groupObjects: Boolean!) {
  bulkOperationRunQuery(query: $query, groupObjects: $groupObjects) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""
POLL = """query($id: ID!) { node(id: $id) { ... on BulkOperation {
  id status errorCode objectCount rootObjectCount fileSize url partialDataUrl query createdAt completedAt
} } }"""
PRODUCTS_WITH_VARIANTS = """{
  products(query: "tag:generated") {
    edges { node { id title handle variants(first: 1) { edges { node { id sku price } } } } }
  }
}"""


async def generate(client: httpx.AsyncClient, products: int, variants: int) -> dict[str, Any]:
    response = await client.post(
        f"{SHOP_URL}/catalog/generate", json={"products": products, "variants_per_product": variants}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def run(admin: AdminApi, query: str, *, grouped: bool = False) -> dict[str, Any]:
    body = await admin.graphql(RUN, {"query": query, "groupObjects": grouped})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["bulkOperationRunQuery"]
    return result


async def finished(admin: AdminApi, operation_id: str) -> dict[str, Any]:
    """Poll node(id) until the operation is done, as an app does."""
    state: dict[str, Any] = {}

    async def done() -> bool:
        body = await admin.graphql(POLL, {"id": operation_id})
        state.update(body["data"]["node"])
        return state["status"] in ("COMPLETED", "FAILED", "CANCELED")

    await eventually(done, within=30)
    return state


async def download(client: httpx.AsyncClient, url: str) -> tuple[httpx.Response, list[dict[str, Any]]]:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    return response, [json.loads(line) for line in response.text.splitlines()]


async def test_bulk_query_end_to_end(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await generate(client, 50, 3)
    await subscribe(admin, "BULK_OPERATIONS_FINISH")
    started = await run(admin, PRODUCTS_WITH_VARIANTS, grouped=True)
    assert started["userErrors"] == []
    operation = started["bulkOperation"]
    assert operation["id"].startswith("gid://shopify/BulkOperation/")
    assert operation["status"] == "CREATED"

    current = await admin.graphql("{ currentBulkOperation { id status url } }")
    assert current["data"]["currentBulkOperation"]["id"] == operation["id"]
    assert current["data"]["currentBulkOperation"]["status"] in ("CREATED", "RUNNING")
    assert current["data"]["currentBulkOperation"]["url"] is None
    busy = await run(admin, PRODUCTS_WITH_VARIANTS)
    assert busy["bulkOperation"] is None
    [error] = busy["userErrors"]
    assert error["message"].startswith("A bulk query operation for this app and shop is already in progress")
    assert operation["id"] in error["message"]

    done = await finished(admin, operation["id"])
    assert done["status"] == "COMPLETED"
    assert done["errorCode"] is None
    assert (done["objectCount"], done["rootObjectCount"]) == ("200", "50")
    assert done["query"] == PRODUCTS_WITH_VARIANTS
    assert done["completedAt"] >= done["createdAt"]
    assert done["partialDataUrl"] is None

    [hook] = await wait_for(receiver, "bulk_operations/finish")
    assert hook == {
        "admin_graphql_api_id": operation["id"],
        "completed_at": hook["completed_at"],
        "created_at": hook["created_at"],
        "error_code": None,
        "status": "completed",
        "type": "query",
    }
    assert hook["completed_at"]
    assert hook["created_at"]
    delivery = next(r for r in receiver.received if r.headers["x-shopify-topic"] == "bulk_operations/finish")
    assert hmac_ok(delivery.body, delivery.headers["x-shopify-hmac-sha256"])

    response, lines = await download(client, done["url"])
    assert response.headers["content-type"].startswith("application/jsonl")
    assert done["fileSize"] == str(len(response.content))
    assert len(lines) == 200
    products = [line for line in lines if "__parentId" not in line]
    variants = [line for line in lines if "__parentId" in line]
    assert len(products) == 50
    assert len(variants) == 150
    # Grouped: a product line, then its variant lines (`first` is ignored, connections are flattened).
    parent = None
    per_product: dict[str, int] = {}
    for line in lines:
        if "__parentId" not in line:
            assert set(line) == {"id", "title", "handle"}
            assert line["id"].startswith("gid://shopify/Product/")
            parent = line["id"]
        else:
            assert set(line) == {"id", "sku", "price", "__parentId"}
            assert line["__parentId"] == parent
            per_product[parent] = per_product.get(parent, 0) + 1
    assert set(per_product.values()) == {3}
    # The same data the paged API gives.
    first_product = products[0]["id"]
    body = await admin.graphql(
        "query($id: ID!) { product(id: $id) { variants(first: 10) { nodes { id sku } } } }",
        {"id": first_product},
    )
    expected = [n["id"] for n in body["data"]["product"]["variants"]["nodes"]]
    assert [v["id"] for v in variants if v["__parentId"] == first_product] == expected

    # Once finished, another may run.
    assert (await run(admin, PRODUCTS_WITH_VARIANTS))["userErrors"] == []


PRODUCTS_WITH_COLLECTIONS_AND_WEIGHTS = """{
  products(query: "tag:generated") {
    edges { node {
      id
      collections { edges { node { id title } } }
      variants { edges { node { id inventoryItem { measurement { weight { value unit } } } } } }
    } }
  }
}"""


async def test_ungrouped_by_default_every_child_still_names_its_parent_and_follows_it(
    admin: AdminApi, client: httpx.AsyncClient
) -> None:
    """Since 2026-01 `groupObjects` is false unless asked: children are after their parent, not by it."""
    created = await generate(client, 3, 2)
    tees = created["productIds"][:2]
    added = await client.post(f"{SHOP_URL}/collections", json={"title": "Tees", "productIds": tees})
    assert added.status_code == 201, added.text
    query = PRODUCTS_WITH_COLLECTIONS_AND_WEIGHTS
    for grouped in (False, True):
        operation = (await run(admin, query, grouped=grouped))["bulkOperation"]
        _, lines = await download(client, (await finished(admin, operation["id"]))["url"])
        seen: set[str] = set()
        for line in lines:
            assert line.get("__parentId", line["id"]) in seen | {line["id"]}  # its parent came first
            seen.add(line["id"])
        collections = [line for line in lines if line["id"].startswith("gid://shopify/Collection/")]
        assert [c["title"] for c in collections] == ["Tees", "Tees"]
        assert {c["__parentId"] for c in collections} == {f"gid://shopify/Product/{n}" for n in tees}
        weights = [v["inventoryItem"]["measurement"]["weight"] for v in lines if "inventoryItem" in v]
        assert weights == [{"value": 100.0, "unit": "GRAMS"}] * 6
        kinds = [line["id"].split("/")[3] for line in lines]
        if grouped:  # each product's lines together
            tee = ["Product", "Collection", "ProductVariant", "ProductVariant"]
            assert kinds == [*tee, *tee, "Product", "ProductVariant", "ProductVariant"]
        else:  # the batch's products first, then their children
            assert kinds[:3] == ["Product"] * 3
            assert "Product" not in kinds[3:]


async def test_nodes_style_and_nested_collections(admin: AdminApi, client: httpx.AsyncClient) -> None:
    query = "{ collections { nodes { id title products { nodes { id } } } } }"
    operation = (await run(admin, query))["bulkOperation"]
    done = await finished(admin, operation["id"])
    _, lines = await download(client, done["url"])
    collections = [line for line in lines if "__parentId" not in line]
    body = await admin.graphql("{ collections(first: 50) { nodes { id productsCount { count } } } }")
    expected = {c["id"]: c["productsCount"]["count"] for c in body["data"]["collections"]["nodes"]}
    assert [c["id"] for c in collections] == list(expected)
    for collection_id, count in expected.items():
        children = [line for line in lines if line.get("__parentId") == collection_id]
        assert len(children) == count
        assert all(child["id"].startswith("gid://shopify/Product/") for child in children)


async def test_a_query_without_results_has_no_file(admin: AdminApi) -> None:
    operation = (
        await run(admin, '{ products(query: "title:nothing-like-this") { edges { node { id } } } }')
    )["bulkOperation"]
    done = await finished(admin, operation["id"])
    assert (done["status"], done["objectCount"], done["url"], done["fileSize"]) == (
        "COMPLETED",
        "0",
        None,
        None,
    )


async def test_invalid_bulk_queries_are_user_errors(admin: AdminApi, client: httpx.AsyncClient) -> None:
    cases = {
        "{ shop { name } }": "Bulk queries must contain at least one connection.",
        '{ node(id: "gid://shopify/Product/1") { id } }': (
            "Bulk queries cannot contain a top-level `node` or `nodes` field."
        ),
        "{ products { edges { node { title variants { edges { node { id } } } } } } }": (
            "The parent 'node' field for a nested connection must select the 'id' field without an alias and "
            "must be of 'ID' return type. Connection fields without 'id': variants."
        ),
        "{ collections { edges { node { id products { edges { node { id "
        "variants { edges { node { id } } } } } } } } } }": (
            "Bulk queries cannot contain connections with a nesting depth greater than 2."
        ),
        "{ products { edges { node { id a: variants { nodes { id } } b: variants { nodes { id } } "
        "collections { nodes { id } } images { nodes { id } } media { nodes { id } } } } } }": (
            "Bulk queries cannot contain more than 5 connections."
        ),
    }
    for query, message in cases.items():
        result = await run(admin, query)
        assert result["bulkOperation"] is None, query
        assert result["userErrors"] == [{"field": ["query"], "message": message, "code": "INVALID"}], query
    broken = await run(admin, "{ products { edges { node { id }")
    assert broken["userErrors"][0]["message"].startswith("Invalid bulk query: Syntax Error")
    unknown = await run(admin, "{ products { edges { node { nope } } } }")
    assert "Cannot query field 'nope'" in unknown["userErrors"][0]["message"]
    assert (await client.get(f"{SHOP_URL}/writes")).json()["refused"] == {"bulkOperationRunQuery": 7}


async def test_missing_scope_fails_the_operation(
    client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    admin = AdminApi(client, MAIN_SHOP, await mint_token(client, MAIN_SHOP))
    await subscribe(admin, "BULK_OPERATIONS_FINISH")
    products_only = AdminApi(client, MAIN_SHOP, await mint_token(client, MAIN_SHOP, "read_products"))
    operation = (await run(products_only, "{ customers { edges { node { id email } } } }"))["bulkOperation"]
    done = await finished(products_only, operation["id"])
    assert (done["status"], done["errorCode"], done["url"]) == ("FAILED", "ACCESS_DENIED", None)
    [hook] = await wait_for(receiver, "bulk_operations/finish")
    assert (hook["status"], hook["error_code"]) == ("failed", "access_denied")


async def test_cancel(admin: AdminApi) -> None:
    operation = (await run(admin, "{ products { edges { node { id } } } }"))["bulkOperation"]
    body = await admin.graphql(
        "mutation($id: ID!) { bulkOperationCancel(id: $id) "
        "{ bulkOperation { status } userErrors { message } } }",
        {"id": operation["id"]},
    )
    assert body["data"]["bulkOperationCancel"] == {"bulkOperation": {"status": "CANCELING"}, "userErrors": []}
    done = await finished(admin, operation["id"])
    assert done["status"] == "CANCELED"


async def test_generated_catalogue_is_silent_and_bulk_readable(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin, "PRODUCTS_CREATE", "PRODUCTS_UPDATE")
    before = (await client.get(SHOP_URL)).json()
    generated = await generate(client, 1000, 10)
    assert (generated["products"], generated["variants"]) == (1000, 10000)
    assert generated["variantCount"] == before["variantCount"] + 10000
    assert len(generated["productIds"]) == 1000
    await settled(client)
    assert receiver.received == []
    assert await deliveries(client, topic="products/create") == []

    operation = (await run(admin, PRODUCTS_WITH_VARIANTS))["bulkOperation"]
    done = await finished(admin, operation["id"])
    assert (done["status"], done["rootObjectCount"], done["objectCount"]) == ("COMPLETED", "1000", "11000")
    response = await client.get(done["url"])
    assert response.content.count(b"\n") == 11000
    count = await admin.graphql('{ productsCount(query: "tag:generated") { count } }')
    assert count["data"]["productsCount"]["count"] == 1000


async def test_generate_validates_its_body(client: httpx.AsyncClient) -> None:
    for body in ({}, {"products": 0}, {"products": 5, "variants_per_product": 5000}):
        response = await client.post(f"{SHOP_URL}/catalog/generate", json=body)
        assert response.status_code == 400, body


async def test_unknown_result_file_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_sandbox/bulk/123.jsonl")).status_code == 404
    assert (await client.get("/_sandbox/bulk/nope")).status_code == 404
