"""The Stripe API through the official SDK: catalogue, customers, auth, idempotency."""

from __future__ import annotations

import pytest
import stripe

from sandbox.tests.integration.stripe.stripe_support import Harness


async def test_sdk_creates_and_reads_product_and_recurring_price(harness: Harness) -> None:
    client = harness.client()
    product, price = await harness.plan(amount=2900, interval="year", lookup_key="pro_yearly")
    assert product.id.startswith("prod_")
    assert price.id.startswith("price_")
    assert price.recurring is not None
    assert price.recurring.interval == "year"
    assert (price.unit_amount, price.currency, price.type) == (2900, "usd", "recurring")
    again = await harness.sdk(client.v1.prices.retrieve, price.id)
    assert again.lookup_key == "pro_yearly"
    assert again.product == product.id
    updated = await harness.sdk(
        client.v1.products.update, product.id, params={"name": "Pro", "metadata": {"tier": "pro"}}
    )
    assert updated.name == "Pro"
    assert updated.metadata["tier"] == "pro"
    listed = await harness.sdk(client.v1.prices.list, params={"lookup_keys": ["pro_yearly"]})
    assert [p.id for p in listed.data] == [price.id]


async def test_transfer_lookup_key_moves_the_key_to_the_new_price(harness: Harness) -> None:
    client = harness.client()
    product, old = await harness.plan(amount=1900, lookup_key="pro_monthly")
    params = {
        "product": product.id,
        "unit_amount": 2400,
        "currency": "usd",
        "recurring": {"interval": "month"},
    }
    with pytest.raises(stripe.InvalidRequestError, match="already uses that lookup key"):
        await harness.sdk(client.v1.prices.create, params={**params, "lookup_key": "pro_monthly"})
    new = await harness.sdk(
        client.v1.prices.create,
        params={**params, "lookup_key": "pro_monthly", "transfer_lookup_key": True},
    )
    assert new.lookup_key == "pro_monthly"
    assert (await harness.sdk(client.v1.prices.retrieve, old.id)).lookup_key is None
    found = await harness.sdk(client.v1.prices.list, params={"lookup_keys": ["pro_monthly"]})
    assert [p.id for p in found.data] == [new.id]


async def test_price_unit_amount_is_immutable(harness: Harness) -> None:
    client = harness.client()
    _, price = await harness.plan(amount=1900)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await harness.sdk(client.v1.prices.update, price.id, params={"unit_amount": 999})
    assert caught.value.http_status == 400
    assert caught.value.param == "unit_amount"
    archived = await harness.sdk(client.v1.prices.update, price.id, params={"active": False})
    assert archived.active is False
    assert archived.unit_amount == 1900
    active = await harness.sdk(client.v1.prices.list, params={"active": True})
    assert price.id not in [p.id for p in active.data]


async def test_customers_create_update_and_filter_by_email(harness: Harness) -> None:
    client = harness.client()
    customer = await harness.sdk(
        client.v1.customers.create,
        params={"email": "m@shop.test", "name": "Mia", "metadata": {"shop": "acme"}},
    )
    assert customer.id.startswith("cus_")
    assert customer.email == "m@shop.test"
    await harness.sdk(client.v1.customers.create, params={"email": "other@shop.test"})
    updated = await harness.sdk(client.v1.customers.update, customer.id, params={"name": "Mia B"})
    assert updated.name == "Mia B"
    assert updated.metadata is not None
    assert updated.metadata["shop"] == "acme"
    found = await harness.sdk(client.v1.customers.list, params={"email": "m@shop.test"})
    assert [c.id for c in found.data] == [customer.id]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await harness.sdk(client.v1.customers.retrieve, "cus_missing")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"


async def test_lists_paginate_with_limit_and_starting_after(harness: Harness) -> None:
    client = harness.client()
    ids = [(await harness.sdk(client.v1.products.create, params={"name": f"P{i}"})).id for i in range(3)]
    first = await harness.sdk(client.v1.products.list, params={"limit": 2})
    assert [p.id for p in first.data] == ids[::-1][:2]
    assert first.has_more is True
    second = await harness.sdk(
        client.v1.products.list, params={"limit": 2, "starting_after": first.data[-1].id}
    )
    assert [p.id for p in second.data] == [ids[0]]
    assert second.has_more is False
    every = await harness.sdk(lambda: [p.id for p in first.auto_paging_iter()])
    assert every == ids[::-1]
    raw = await harness.http.get("/v1/products", headers={"Authorization": f"Bearer {client_key()}"})
    assert set(raw.json()) == {"object", "data", "has_more", "url"}
    assert raw.json()["url"] == "/v1/products"


def client_key() -> str:
    from sandbox.tests.integration.stripe.stripe_support import SECRET_KEY

    return SECRET_KEY


async def test_wrong_api_key_is_401_with_stripes_error_shape(harness: Harness) -> None:
    with pytest.raises(stripe.AuthenticationError) as caught:
        await harness.sdk(harness.client("sk_test_wrong_key_123456").v1.products.list)
    assert caught.value.http_status == 401
    raw = await harness.http.get("/v1/products", headers={"Authorization": "Bearer sk_test_nope"})
    assert raw.status_code == 401
    assert raw.json()["error"]["type"] == "invalid_request_error"
    assert "Invalid API Key" in raw.json()["error"]["message"]
    missing = await harness.http.get("/v1/products")
    assert missing.status_code == 401


async def test_idempotency_key_replays_and_refuses_other_params(harness: Harness) -> None:
    client = harness.client()
    options: stripe.RequestOptions = {"idempotency_key": "create-cust-1"}
    first = await harness.sdk(client.v1.customers.create, params={"email": "a@x.test"}, options=options)
    second = await harness.sdk(client.v1.customers.create, params={"email": "a@x.test"}, options=options)
    assert second.id == first.id
    assert len((await harness.sdk(client.v1.customers.list)).data) == 1
    with pytest.raises(stripe.IdempotencyError):
        await harness.sdk(client.v1.customers.create, params={"email": "b@x.test"}, options=options)


async def test_unknown_parameters_are_refused_like_stripe(harness: Harness) -> None:
    client = harness.client()
    with pytest.raises(stripe.InvalidRequestError, match="Received unknown parameter: colour"):
        await harness.sdk(client.v1.products.create, params={"name": "X", "colour": "red"})


async def test_unknown_references_are_400_on_the_parameter(harness: Harness) -> None:
    client = harness.client()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await harness.sdk(
            client.v1.prices.create, params={"product": "prod_nope", "unit_amount": 100, "currency": "usd"}
        )
    assert caught.value.http_status == 400
    assert caught.value.param == "product"
    assert caught.value.code == "resource_missing"
