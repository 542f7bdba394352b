"""How the Shopify client reports failures that the sandboxes cannot produce in-process.

ASGI transports have no network timeouts, so a timing-out transport stands in for one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from connectors.errors import ExternalServiceError, RateLimited, Unauthorized
from connectors.shopify import ShopifyClient
from connectors.shopify_limits import ShopifyRateLimiter


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


THROTTLED = httpx.Response(
    200,
    json={
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {
            "cost": {
                "requestedQueryCost": 300,
                "actualQueryCost": None,
                "throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": 100, "restoreRate": 100},
            }
        },
    },
)
OK = httpx.Response(
    200,
    json={
        "data": {"shop": {"name": "Demo"}},
        "extensions": {
            "cost": {
                "requestedQueryCost": 300,
                "actualQueryCost": 300,
                "throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": 0, "restoreRate": 100},
            }
        },
    },
)


class RecordedSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def limited_client(
    answers: list[httpx.Response], sleep: RecordedSleep, max_wait: float = 30
) -> ShopifyClient:
    replies = iter(answers)
    client = client_with(httpx.MockTransport(lambda request: next(replies)))
    client.limiter = ShopifyRateLimiter(clock=sleep.clock, sleep=sleep, max_wait_seconds=max_wait)
    return client


async def test_throttled_answer_is_waited_out_for_exactly_the_missing_points() -> None:
    sleep = RecordedSleep()
    client = limited_client([THROTTLED, OK], sleep)
    result = await client.graphql("a.myshopify.com", "token", "{ shop { name } }")
    assert result.data == {"shop": {"name": "Demo"}}
    # 300 points needed, 100 available, 100 restored a second: two seconds.
    assert sleep.waits == [pytest.approx(2.0)]


async def test_429_is_waited_out_for_its_retry_after() -> None:
    sleep = RecordedSleep()
    client = limited_client([httpx.Response(429, headers={"Retry-After": "2.5"}), OK], sleep)
    await client.graphql("a.myshopify.com", "token", "{ shop { name } }")
    assert 2.5 in sleep.waits


async def test_a_wait_longer_than_the_limiters_patience_is_reported_not_slept() -> None:
    sleep = RecordedSleep()
    client = limited_client([httpx.Response(429, headers={"Retry-After": "120"})], sleep, max_wait=30)
    with pytest.raises(RateLimited) as limited:
        await client.graphql("a.myshopify.com", "token", "{ shop { name } }")
    assert limited.value.retry_after_seconds == 120
    assert 120 not in sleep.waits


async def test_a_refused_token_is_unauthorized() -> None:
    client = limited_client([httpx.Response(401, json={"errors": "[API] Invalid API key"})], RecordedSleep())
    with pytest.raises(Unauthorized):
        await client.graphql("a.myshopify.com", "token", "{ shop { name } }")


async def test_giving_up_on_throttling_says_when_the_bucket_affords_the_query_not_the_whole_patience() -> (
    None
):
    sleep = RecordedSleep()
    # Other callers keep draining the bucket: every attempt finds it THROTTLED.
    client = limited_client([THROTTLED] * 6, sleep, max_wait=30)
    with pytest.raises(RateLimited) as limited:
        await client.graphql("a.myshopify.com", "token", "{ shop { name } }")
    # The last answer left 100 of the 300 points the query costs, restored at 100 a second.
    assert limited.value.retry_after_seconds == pytest.approx(2.0)


async def test_a_query_the_bucket_cannot_afford_within_patience_is_deferred_for_the_missing_points() -> None:
    sleep = RecordedSleep()
    client = limited_client([THROTTLED], sleep, max_wait=1)
    with pytest.raises(RateLimited) as limited:
        await client.graphql("a.myshopify.com", "token", "{ shop { name } }")
    assert limited.value.retry_after_seconds == pytest.approx(2.0)
    assert sleep.waits == []
