"""Concurrent webhook deliveries share commits, yet each answer still means exactly-once storage."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from jobqueue.tables import InboxEvent, Job
from tests.integration.iam.support import post_webhook


@pytest.mark.postgres
async def test_concurrent_deliveries_with_duplicates_are_stored_once_each(client: httpx.AsyncClient) -> None:
    # 40 distinct deliveries, 10 of them sent twice at the same moment.
    delivery_ids = [f"delivery-{n}" for n in range(40)] + [f"delivery-{n}" for n in range(10)]
    responses = await asyncio.gather(
        *(
            post_webhook(
                client,
                "products/update",
                {"id": int(delivery_id.split("-")[1]), "title": "Shirt"},
                shop_domain="batch.myshopify.com",
                webhook_id=delivery_id,
            )
            for delivery_id in delivery_ids
        )
    )

    assert all(response.status_code == 200 for response in responses)
    statuses = [response.json()["status"] for response in responses]
    assert statuses.count("stored") == 40
    assert statuses.count("duplicate") == 10
    assert await InboxEvent.count() == 40
    assert await Job.count().where(Job.kind == "sync.process_inbox_event") == 40


@pytest.mark.postgres
async def test_a_bad_signature_in_a_busy_moment_stores_nothing(client: httpx.AsyncClient) -> None:
    good, bad = await asyncio.gather(
        post_webhook(client, "products/update", {"id": 1}, shop_domain="batch.myshopify.com"),
        post_webhook(client, "products/update", {"id": 2}, shop_domain="batch.myshopify.com", secret="wrong"),
    )
    assert (good.status_code, bad.status_code) == (200, 401)
    assert [row["entity_id"] for row in await InboxEvent.select(InboxEvent.entity_id)] == ["1"]
