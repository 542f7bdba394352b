"""API faults as Stripe sends them, the control API, health, start page, state file."""

from __future__ import annotations

from pathlib import Path

import pytest
import stripe

from sandbox.tests.integration.stripe.stripe_support import Harness, running_stripe


async def test_http_500_fault_raises_api_error_then_clears(harness: Harness) -> None:
    client = harness.client()
    await harness.control("POST", "/faults", {"kind": "http_500", "count": 1})
    with pytest.raises(stripe.APIError) as caught:
        await harness.sdk(client.v1.products.list)
    assert caught.value.http_status == 500
    assert (await harness.sdk(client.v1.products.list)).data == []


async def test_sdk_retry_after_500_replays_with_the_same_idempotency_key(harness: Harness) -> None:
    await harness.control("POST", "/faults", {"kind": "http_500", "count": 1, "path_prefix": "/v1/customers"})
    customer = await harness.sdk(harness.client(retries=1).v1.customers.create, params={"email": "r@x.test"})
    assert customer.id.startswith("cus_")
    assert len((await harness.sdk(harness.client().v1.customers.list)).data) == 1


async def test_rate_limit_fault_is_429_with_stripes_body(harness: Harness) -> None:
    await harness.control("POST", "/faults", {"kind": "rate_limit", "seconds": 2})
    with pytest.raises(stripe.RateLimitError) as caught:
        await harness.sdk(harness.client().v1.products.list)
    assert caught.value.http_status == 429
    body = caught.value.json_body
    assert isinstance(body, dict)
    assert body["error"]["code"] == "rate_limit"
    assert caught.value.headers is not None
    assert caught.value.headers["Retry-After"] == "2"


async def test_timeout_fault_stalls_then_answers(harness: Harness) -> None:
    await harness.control("POST", "/faults", {"kind": "timeout", "seconds": 12})
    product = await harness.sdk(harness.client().v1.products.create, params={"name": "Slow"})
    assert product.name == "Slow"
    assert harness.fault_sleep.calls == [12.0]


async def test_control_api_health_and_start_page_are_never_faulted(harness: Harness) -> None:
    await harness.control("POST", "/faults", {"kind": "http_500", "count": 5, "path_prefix": "/"})
    health = await harness.http.get("/healthz")
    assert health.json() == {"status": "ok", "service": "stripe"}
    assert (await harness.control("GET", "/faults"))["data"][0]["remaining"] == 5
    await harness.control("DELETE", "/faults")
    start = await harness.http.get("/")
    assert start.status_code == 200
    assert "Stripe sandbox" in start.text


async def test_reset_forgets_objects_and_keeps_configured_endpoints(harness: Harness) -> None:
    await harness.plan()
    extra = await harness.control("POST", "/webhook_endpoints", {"url": "http://other.test/hook"})
    assert extra["secret"].startswith("whsec_")
    assert len((await harness.control("GET", "/webhook_endpoints"))["data"]) == 2
    await harness.control("POST", "/reset")
    assert (await harness.control("GET", "/objects"))["data"] == []
    endpoints = (await harness.control("GET", "/webhook_endpoints"))["data"]
    assert [e["url"] for e in endpoints] == ["http://receiver.test/webhooks/stripe"]


async def test_state_file_keeps_objects_across_restarts(tmp_path: Path) -> None:
    state_file = tmp_path / "stripe.json"
    async with running_stripe(state_file=state_file) as first:
        _, price = await first.plan(lookup_key="kept")
    async with running_stripe(state_file=state_file) as second:
        again = await second.sdk(second.client().v1.prices.retrieve, price.id)
        assert again.lookup_key == "kept"
