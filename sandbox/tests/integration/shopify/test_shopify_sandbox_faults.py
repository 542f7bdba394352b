"""Injected faults: 500s, stalls and drained buckets, per shop, until used up or cleared."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from sandbox.tests.integration.shopify.shopify_sandbox_support import MAIN_SHOP, AdminApi, mint_token

QUERY = "{ shop { name } }"


async def add_fault(client: httpx.AsyncClient, **fault: object) -> None:
    response = await client.post("/_sandbox/faults", json=fault)
    assert response.status_code == 201, response.text


async def test_http_500_fault_fails_the_next_n_requests_then_clears(
    client: httpx.AsyncClient, admin: AdminApi
) -> None:
    await add_fault(client, kind="http_500", shop=MAIN_SHOP, count=2)
    for _ in range(2):
        response = await admin.post(QUERY)
        assert response.status_code == 500
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert error["message"].startswith("Internal error. Looks like something went wrong on our end.")
        assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    recovered = await admin.post(QUERY)
    assert recovered.status_code == 200
    assert recovered.json()["data"] == {"shop": {"name": "Demo Store"}}


async def test_fault_for_one_shop_leaves_others_alone(client: httpx.AsyncClient, admin: AdminApi) -> None:
    await add_fault(client, kind="http_500", shop="demo-plus.myshopify.com")
    assert (await admin.post(QUERY)).status_code == 200
    plus = AdminApi(client, "demo-plus.myshopify.com", await mint_token(client, "demo-plus.myshopify.com"))
    assert (await plus.post(QUERY)).status_code == 500


async def test_fault_for_another_path_kind_leaves_graphql_alone(
    client: httpx.AsyncClient, admin: AdminApi
) -> None:
    await add_fault(client, kind="http_500", shop=MAIN_SHOP, path="oauth")
    assert (await admin.post(QUERY)).status_code == 200


async def test_throttle_fault_answers_throttled_with_a_full_bucket(
    client: httpx.AsyncClient, admin: AdminApi
) -> None:
    await add_fault(client, kind="throttle", shop=MAIN_SHOP)
    body = (await admin.post(QUERY)).json()
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0


async def test_timeout_fault_stalls_the_request(client: httpx.AsyncClient, admin: AdminApi) -> None:
    await add_fault(client, kind="timeout", shop=MAIN_SHOP, seconds=30)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await admin.post(QUERY)
    assert (await admin.post(QUERY)).status_code == 200


async def test_faults_are_listed_and_cleared(client: httpx.AsyncClient, admin: AdminApi) -> None:
    await add_fault(client, kind="http_500", shop="*", count=5)
    listed = (await client.get("/_sandbox/faults")).json()
    assert [(f["kind"], f["shop"], f["remaining"]) for f in listed] == [("http_500", "*", 5)]
    cleared = await client.delete("/_sandbox/faults")
    assert cleared.json() == {"cleared": 1}
    assert (await admin.post(QUERY)).status_code == 200


async def test_unknown_fault_kind_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/_sandbox/faults", json={"kind": "meteor"})
    assert response.status_code == 400
    assert "http_500" in response.json()["detail"]


CUSTOMER_CREATE = """
mutation { customerCreate(input: {email: "lost@example.com", firstName: "Lou"}) {
  customer { id } userErrors { field message } } }
"""


async def test_a_lost_answer_fault_applies_the_named_mutation_and_stalls_its_answer(
    client: httpx.AsyncClient, admin: AdminApi
) -> None:
    await add_fault(client, kind="lost_answer", shop=MAIN_SHOP, mutation="customerCreate", seconds=30)
    assert (await admin.post(QUERY)).status_code == 200  # not that mutation: answered at once
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await admin.post(CUSTOMER_CREATE)
    assert (await client.get("/_sandbox/faults")).json() == []  # used up by the applied request
    writes = (await client.get(f"/_sandbox/shops/{MAIN_SHOP}/writes")).json()["writes"]
    assert writes["customerCreate"] == 1
    found = (
        await admin.post('{ customers(first: 1, query: "email:lost@example.com") { nodes { id } } }')
    ).json()
    assert len(found["data"]["customers"]["nodes"]) == 1


async def test_only_a_lost_answer_fault_names_a_mutation(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_sandbox/faults", json={"kind": "timeout", "shop": MAIN_SHOP, "mutation": "customerCreate"}
    )
    assert response.status_code == 400
    assert "lost_answer" in response.json()["detail"]
