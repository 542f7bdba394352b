"""The CRM's catalog import: many products created or updated by external id in one call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sandbox.tests.integration.crm.sandbox_crm_support import Harness, Merchant, running_crm
from sandbox.tests.integration.crm.test_sandbox_crm_catalog import product_body


@pytest.fixture
async def crm() -> AsyncIterator[Harness]:
    async with running_crm() as harness:
        yield harness


async def test_a_batch_creates_then_updates_by_external_id_and_reports_bad_items(crm: Harness) -> None:
    acme: Merchant = await crm.merchant("acme.myshopify.com")
    first = await acme.post("/api/v1/products/batch", {"products": [product_body(1), product_body(2)]})
    assert first.status_code == 200, first.text
    assert [row["created"] for row in first.json()["data"]] == [True, True]

    again = await acme.post(
        "/api/v1/products/batch", {"products": [product_body(1, price="25.00"), product_body(3, price="-1")]}
    )
    body = again.json()
    assert [(row["external_id"], row["created"]) for row in body["data"]] == [
        ("gid://shopify/ProductVariant/1", False)
    ]
    assert body["errors"][0]["index"] == 1
    assert body["errors"][0]["errors"][0]["field"] == "price"
    products = (await acme.get("/api/v1/products")).json()["data"]
    assert {p["external_id"]: p["price"] for p in products}["gid://shopify/ProductVariant/1"] == "25.00"
    assert len(products) == 2
    writes = (await crm.http.get("/_sandbox/writes")).json()
    assert (writes["products.create"], writes["products.update"]) == (2, 1)


async def test_a_batch_is_one_to_a_hundred_products(crm: Harness) -> None:
    acme: Merchant = await crm.merchant("acme.myshopify.com")
    for products in ([], [product_body(n) for n in range(101)]):
        answer = await acme.post("/api/v1/products/batch", {"products": products})
        assert answer.status_code == 422
