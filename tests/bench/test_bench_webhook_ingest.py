"""Webhook ingest rate (verify + store + 200) against a bare Litestar route in the same run."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest
from litestar import Litestar, get

from connectors.shopify_auth import webhook_signature
from sync.tables import InboxEvent
from tests.bench.conftest import BenchReport
from tests.conftest import asgi_client

REQUESTS = 1500
CONCURRENCY = 16


@get("/hello", sync_to_thread=False)
def hello() -> str:
    return "hello"


async def requests_per_second(send: Callable[[int], Awaitable[httpx.Response]]) -> float:
    counter = iter(range(REQUESTS))

    async def client_loop() -> None:
        for n in counter:
            response = await send(n)
            assert response.status_code == 200, response.text

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(CONCURRENCY)))
    return REQUESTS / (time.perf_counter() - started)


@pytest.mark.postgres
async def test_webhook_ingest_rate_against_hello_world(
    client: httpx.AsyncClient, bench_report: BenchReport, engine_name: str
) -> None:
    # logging_config=None: Litestar's default would replace the root handlers mid-run, and the
    # webhook requests measured after it would log through Litestar's queue, not the app's setup.
    hello_client = asgi_client(Litestar([hello], logging_config=None))
    run = secrets.token_hex(4)

    def webhook(n: int) -> Awaitable[httpx.Response]:
        body = json.dumps({"id": n, "title": f"Product {n}", "variants": []}).encode()
        return client.post(
            "/webhooks/shopify",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Topic": "products/update",
                "X-Shopify-Hmac-Sha256": webhook_signature(body, "dev-shopify-secret"),
                "X-Shopify-Shop-Domain": "bench.myshopify.com",
                "X-Shopify-Webhook-Id": f"{run}-{n}",
            },
        )

    async with hello_client:
        await requests_per_second(lambda n: hello_client.get("/hello"))  # warm-up
        baseline = await requests_per_second(lambda n: hello_client.get("/hello"))
    ingest = await requests_per_second(webhook)

    assert await InboxEvent.count() == REQUESTS
    ratio = ingest / baseline
    bench_report.add(f"hello-world [{engine_name}]", baseline, "req/s", "-", True)
    bench_report.add(f"webhook ingest [{engine_name}]", ingest, "req/s", "-", True)
    bench_report.add(f"webhook ingest / hello-world [{engine_name}]", ratio, "ratio", ">= 0.5", ratio >= 0.5)
