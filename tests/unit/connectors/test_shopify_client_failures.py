"""How the Shopify client reports failures that the sandboxes cannot produce in-process.

ASGI transports have no network timeouts, so a timing-out transport stands in for one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from connectors.errors import ExternalServiceError, RateLimited, Unauthorized
from connectors.shopify import ShopifyClient


def client_with(handler: httpx.MockTransport) -> ShopifyClient:
    return ShopifyClient(
        httpx.AsyncClient(transport=handler),
        shop_base_url="http://shopify.test/shops/{shop}",
        api_version="2026-10",
        client_id="key",
        client_secret="secret",
    )


def timing_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("no answer", request=request)


async def test_token_endpoint_timeout_is_an_external_failure() -> None:
    client = client_with(httpx.MockTransport(timing_out))
    with pytest.raises(ExternalServiceError, match="timed out"):
        await client.exchange_code("a.myshopify.com", "code", datetime.now(tz=UTC))


async def test_graphql_401_429_and_throttled_map_to_their_errors() -> None:
    answers = iter(
        [
            httpx.Response(401, json={"errors": "[API] Invalid API key or access token"}),
            httpx.Response(429, headers={"Retry-After": "2.5"}),
            httpx.Response(
                200,
                json={
                    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                    "extensions": {
                        "cost": {
                            "requestedQueryCost": 300,
                            "throttleStatus": {
                                "maximumAvailable": 2000,
                                "currentlyAvailable": 100,
                                "restoreRate": 100,
                            },
                        }
                    },
                },
            ),
        ]
    )
    client = client_with(httpx.MockTransport(lambda request: next(answers)))
    with pytest.raises(Unauthorized):
        await client.graphql("a.myshopify.com", "token", "{ shop { name } }")
    with pytest.raises(RateLimited) as limited:
        await client.graphql("a.myshopify.com", "token", "{ shop { name } }")
    assert limited.value.retry_after_seconds == 2.5
    with pytest.raises(RateLimited) as throttled:
        await client.graphql("a.myshopify.com", "token", "{ shop { name } }")
    # 200 points missing at 100 points/s: wait two seconds, not a fixed guess.
    assert throttled.value.retry_after_seconds == 2.0
