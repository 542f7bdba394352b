"""The webhook inbox (jobqueue/inbox.py): verified events stored once each, in the rows the ORM would
write and as the bytes that arrived; concurrent deliveries share commits, SQLite's write lock is
waited for off the event loop; the worker records an unknown topic and ignores it."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from piccolo.engine.sqlite import SQLiteEngine

from jobqueue.inbox import JOB_PROCESS_INBOX_EVENT, InboxWriter, IncomingEvent, _Delivery, _SQLiteIntake
from jobqueue.jobs import new_job
from jobqueue.tables import InboxEvent, InboxStatus, Job
from jobqueue.worker import Worker
from lib.clock import utcnow
from onboarding.settings import Settings
from tests.support.app import lifespan_of
from tests.support.shops import post_webhook
from tests.support.signatures import webhook_signature

SHOP = "lean.myshopify.com"


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
        post_webhook(client, "products/update", {"id": 1, "title": "Tee"}, shop_domain="batch.myshopify.com"),
        post_webhook(
            client,
            "products/update",
            {"id": 2, "title": "Tee"},
            shop_domain="batch.myshopify.com",
            secret="wrong",
        ),
    )
    assert (good.status_code, bad.status_code) == (200, 401)
    assert [row["entity_id"] for row in await InboxEvent.select(InboxEvent.entity_id)] == ["1"]


@pytest.mark.postgres
async def test_rows_stored_by_the_intake_are_the_rows_the_orm_would_write(client: httpx.AsyncClient) -> None:
    # One batch (sent together), three events about two products, in this order.
    responses = await asyncio.gather(
        *(
            post_webhook(
                client,
                "products/update",
                {"id": entity, "title": "Tee", "n": n},
                shop_domain=SHOP,
                webhook_id=f"p-{n}",
            )
            for n, entity in enumerate((7, 8, 7))
        )
    )
    assert [response.json()["status"] for response in responses] == ["stored"] * 3

    events = await InboxEvent.select().order_by(InboxEvent.id).output(load_json=True)
    assert [(e["delivery_key"], e["entity_id"], e["payload"]["n"]) for e in events] == [
        ("shopify:event:products/update:event-of-p-0", "7", 0),
        ("shopify:event:products/update:event-of-p-1", "8", 1),
        ("shopify:event:products/update:event-of-p-2", "7", 2),
    ]
    assert {(e["source"], e["topic"], e["shop_domain"], e["status"], e["processed_at"]) for e in events} == {
        ("shopify", "products/update", SHOP, "received", None)
    }

    jobs = await Job.select().order_by(Job.id).output(load_json=True)
    # Jobs in arrival order, so one product's changes are applied in the order they came.
    assert [job["payload"] for job in jobs] == [{"event_id": e["id"]} for e in events]
    assert [job["ordering_key"] for job in jobs] == [
        "shopify:product:7",
        "shopify:product:8",
        "shopify:product:7",
    ]

    reference = new_job(JOB_PROCESS_INBOX_EVENT, {}, shop_domain=SHOP, ordering_key="shopify:product:7")
    await reference.save()
    (orm_row,) = await Job.select().where(Job.id == reference.id).output(load_json=True)
    skipped = {"id", "payload", "run_at", "created_at"}
    for job in jobs:
        assert {k: v for k, v in job.items() if k not in skipped} == {
            k: v for k, v in orm_row.items() if k not in skipped
        } | {"ordering_key": job["ordering_key"]}
        assert job["run_at"].tzinfo is not None
        assert job["created_at"] <= orm_row["created_at"]


async def test_the_writer_reconnects_after_a_drain(app: Litestar) -> None:
    # The app can be started again (tests and the CLI do): its inbox opens a fresh connection.
    inbox: InboxWriter = app.state.inbox
    for attempt in range(2):
        async with lifespan_of(app):
            event = IncomingEvent("shopify", f"again-{attempt}", "products/update", SHOP, {"id": attempt})
            assert await inbox.record(event) is True
    assert await InboxEvent.count() == 2


def signed_delivery(body: bytes, webhook_id: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "products/update",
        "X-Shopify-Hmac-Sha256": webhook_signature(body, "dev-shopify-secret"),
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Webhook-Id": webhook_id,
    }


async def stored_payload_text(delivery_key: str) -> str:
    # The column as text: PostgreSQL's json type keeps the text it was given, SQLite stores text.
    (row,) = await InboxEvent.raw(
        "SELECT CAST(payload AS TEXT) AS payload FROM inbox_event WHERE delivery_key = {}", delivery_key
    )
    return str(row["payload"])


@pytest.mark.postgres
async def test_a_payload_is_stored_as_the_bytes_that_arrived(client: httpx.AsyncClient) -> None:
    # Key order, spacing and non-ASCII text as Shopify sent them: nothing is serialised again.
    body = '{"title":"Crème brûlée  set", "id": 9,\n "variants": [] }'.encode()
    response = await client.post("/webhooks/shopify", content=body, headers=signed_delivery(body, "as-sent"))
    assert response.json() == {"status": "stored"}
    assert await stored_payload_text("shopify:as-sent") == body.decode()

    # UTF-16 is JSON to json.loads, but not JSON between systems (RFC 8259: UTF-8), and Shopify's
    # package checks the signature over UTF-8 text: refused, nothing stored.
    utf16 = '{"id": 10, "title": "Crème"}'.encode("utf-16")
    response = await client.post("/webhooks/shopify", content=utf16, headers=signed_delivery(utf16, "utf16"))
    assert (response.status_code, response.json()) == (400, {"error": "the body is not UTF-8 JSON"})
    assert await InboxEvent.count().where(InboxEvent.delivery_key == "shopify:utf16") == 0


async def test_a_delivery_waits_for_the_write_lock_without_holding_up_other_requests(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # Another connection (a job, say) holds SQLite's write lock for a while.
    database = str(settings.database_url).removeprefix("sqlite:///")
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        body = b'{"id": 11, "title": "Tee"}'
        delivery = asyncio.create_task(
            client.post("/webhooks/shopify", content=body, headers=signed_delivery(body, "behind-lock"))
        )
        # Pages keep answering while the delivery waits for the lock.
        for _ in range(3):
            assert (await client.get("/healthz")).status_code == 200
        assert not delivery.done()
    finally:
        holder.execute("COMMIT")
        holder.close()
    response = await asyncio.wait_for(delivery, timeout=10)
    assert response.json() == {"status": "stored"}
    assert await InboxEvent.count() == 1


async def test_a_write_lock_held_past_the_engine_timeout_fails_the_batch_and_stores_nothing(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "locked.sqlite3"
    shutil.copyfile(sqlite_template, path)
    intake = _SQLiteIntake(SQLiteEngine(path=str(path), timeout=0.2))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    delivery = _Delivery.of(IncomingEvent("shopify", "locked-out", "products/update", SHOP, {"id": 12}))
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await intake.store([delivery], utcnow())
    finally:
        holder.execute("COMMIT")
        holder.close()
    # The connection is fine afterwards: the same delivery goes in once the lock is free.
    assert await intake.store([delivery], utcnow()) == {"shopify:locked-out"}
    await intake.close()
    count = sqlite3.connect(path).execute("SELECT count(*) FROM inbox_event").fetchone()
    assert count == (1,)


async def test_a_batch_cancelled_during_its_commit_is_committed_and_the_next_one_waits_for_it(
    app: Litestar,
) -> None:
    # At shutdown the flusher can be cancelled while SQLite commits in the commit thread.
    inbox: InboxWriter = app.state.inbox
    async with lifespan_of(app):
        first = asyncio.create_task(
            inbox.store([IncomingEvent("shopify", "cancelled", "products/update", SHOP, {"id": 13})])
        )
        await asyncio.sleep(0)  # one step: inserts done, the commit handed to its thread
        assert not first.done()
        first.cancel()
        later = IncomingEvent("shopify", "after-cancel", "products/update", SHOP, {"id": 14})
        assert await inbox.store([later]) == [True]
        with pytest.raises(asyncio.CancelledError):
            await first
        keys = await InboxEvent.select(InboxEvent.delivery_key).order_by(InboxEvent.id).output(as_list=True)
        assert keys == ["shopify:cancelled", "shopify:after-cancel"]


async def drain(app: Litestar) -> None:
    worker: Worker = app.state.worker
    await worker.drain()


@pytest.mark.postgres
async def test_unknown_topic_is_recorded_and_ignored(app: Litestar, client: httpx.AsyncClient) -> None:
    response = await post_webhook(client, "carts/update", {"id": 3}, shop_domain=SHOP)
    assert response.status_code == 200
    await drain(app)
    event = await InboxEvent.select(InboxEvent.topic, InboxEvent.status).first()
    assert event == {"topic": "carts/update", "status": InboxStatus.IGNORED}
