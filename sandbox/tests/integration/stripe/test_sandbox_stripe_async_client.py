"""The SDK's async client (httpx) against the sandbox, as an async Litestar app would use it.

stripe 16 passes form bodies to httpx as `data=<bytes>`, which httpx 0.28 deprecates; that
one warning, and only it, is filtered here.
"""

from __future__ import annotations

import pytest
import stripe

from sandbox.tests.integration.stripe.stripe_support import SECRET_KEY, Harness

pytestmark = pytest.mark.filterwarnings(
    r"ignore:Use 'content=<\.\.\.>' to upload raw bytes/text content\.:DeprecationWarning:httpx\..*"
)


async def test_async_client_creates_price_and_checkout_session(harness: Harness) -> None:
    http_client = stripe.HTTPXClient()
    try:
        await _exercise(harness, http_client)
    finally:
        await http_client.close_async()  # type: ignore[no-untyped-call]


async def _exercise(harness: Harness, http_client: stripe.HTTPXClient) -> None:
    client = stripe.StripeClient(
        SECRET_KEY, base_addresses={"api": harness.url}, max_network_retries=0, http_client=http_client
    )
    product = await client.v1.products.create_async(params={"name": "Async"})
    price = await client.v1.prices.create_async(
        params={
            "product": product.id,
            "unit_amount": 900,
            "currency": "eur",
            "recurring": {"interval": "month"},
        }
    )
    session = await client.v1.checkout.sessions.create_async(
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "http://app.test/ok",
        }
    )
    assert session.amount_total == 900
    listed = await client.v1.prices.list_async(params={"product": product.id})
    assert [p.id for p in listed.data] == [price.id]
    bad = stripe.StripeClient(
        "sk_test_bad", base_addresses={"api": harness.url}, max_network_retries=0, http_client=http_client
    )
    with pytest.raises(stripe.AuthenticationError):
        await bad.v1.products.list_async()
