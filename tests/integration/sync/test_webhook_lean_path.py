"""Webhooks bypass Litestar's page machinery, yet keep every guarantee the app gives its answers.

Request id, one access log line, security headers, 401/400/405/413 without storing, a clean
JSON 500 (no trace) when storing fails, and inbox rows identical to what the ORM writes.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from piccolo.engine.sqlite import SQLiteEngine

from connectors.shopify_auth import webhook_signature
from iam.provisioning import shop_of_crm_account
from jobqueue.inbox import JOB_PROCESS_INBOX_EVENT, InboxWriter, IncomingEvent, _Delivery, _SQLiteIntake
from jobqueue.intake import WebhookIntake
from jobqueue.jobs import new_job
from jobqueue.tables import InboxEvent, Job
from lib.clock import utcnow
from onboarding.app import create_app
from onboarding.settings import Settings
from tests.conftest import asgi_client, lifespan_of
from tests.integration.iam.support import post_webhook

SHOP = "lean.myshopify.com"
SECURITY_HEADERS = (
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
    "cross-origin-opener-policy",
)


def assert_security_headers(response: httpx.Response) -> None:
    for name in SECURITY_HEADERS:
        assert name in response.headers, name
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_a_webhook_answer_carries_request_id_security_headers_and_one_access_line(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings)  # logging goes to the stdout this test captures
    async with lifespan_of(app), asgi_client(app) as client:
        kept = await client.post(
            "/webhooks/shopify", content=b"{}", headers={"x-request-id": "shopify-delivery-0001"}
        )
        stored = await post_webhook(client, "products/update", {"id": 1}, shop_domain=SHOP)

    assert kept.status_code == 401  # unsigned
    assert kept.headers["x-request-id"] == "shopify-delivery-0001"
    assert stored.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", stored.headers["x-request-id"])
    for response in (kept, stored):
        assert_security_headers(response)
        assert "set-cookie" not in response.headers  # no session, no CSRF token for machines
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request"]
    assert [(line["request_id"], line["status"], line["path"]) for line in access] == [
        ("shopify-delivery-0001", 401, "/webhooks/shopify"),
        (stored.headers["x-request-id"], 200, "/webhooks/shopify"),
    ]


async def test_a_request_id_with_a_trailing_newline_is_replaced(app: Litestar) -> None:
    # httpx refuses such a header, so the ASGI call is made by hand, as a lax proxy might pass it.
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/webhooks/shopify",
        "raw_path": b"/webhooks/shopify",
        "query_string": b"",
        "headers": [(b"x-request-id", b"abcdefgh1234\n")],
    }
    async with lifespan_of(app):
        await app(scope, receive, send)  # type: ignore[arg-type]
    headers = dict(sent[0]["headers"])
    assert re.fullmatch(rb"[0-9a-f]{32}", headers[b"x-request-id"])


@pytest.mark.postgres
async def test_a_failure_while_storing_answers_json_500_without_a_trace_and_stores_nothing(
    app: Litestar, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_store(events: object) -> list[bool]:
        raise RuntimeError("secret-internal-detail shpat_abc")

    monkeypatch.setattr(app.state.inbox, "store", broken_store)
    # Two at once: one failing commit answers every request waiting on it.
    responses = await asyncio.gather(
        post_webhook(client, "products/update", {"id": 1}, shop_domain=SHOP),
        post_webhook(client, "products/update", {"id": 2}, shop_domain=SHOP),
    )

    for response in responses:
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["error"]["status"] == 500
        assert body["error"]["request_id"] == response.headers["x-request-id"]
        assert "secret-internal-detail" not in response.text
        assert "Traceback" not in response.text
        assert_security_headers(response)
    assert await InboxEvent.count() == 0


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"not json", {"X-Shopify-Topic": "products/update", "X-Shopify-Webhook-Id": "w-1"}),
        (b"[1, 2]", {"X-Shopify-Topic": "products/update", "X-Shopify-Webhook-Id": "w-2"}),
        (b'{"id": NaN}', {"X-Shopify-Topic": "products/update", "X-Shopify-Webhook-Id": "w-3"}),
        (b'{"id": 1}', {"X-Shopify-Webhook-Id": "w-4"}),
        (b'{"id": 1}', {"X-Shopify-Topic": "products/update"}),
    ],
    ids=["not JSON", "not an object", "NaN", "no topic", "no webhook id"],
)
async def test_a_signed_but_malformed_delivery_is_400_and_stores_nothing(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/webhooks/shopify",
        content=body,
        headers={**headers, "X-Shopify-Hmac-Sha256": webhook_signature(body, "dev-shopify-secret")},
    )
    assert response.status_code == 400
    assert "error" in response.json()
    assert await InboxEvent.count() == 0


async def test_other_methods_are_405_with_allow_and_the_usual_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/webhooks/crm")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"error": "method not allowed"}
    assert "x-request-id" in response.headers
    assert_security_headers(response)


async def test_repeated_and_trailing_slashes_reach_the_intake_as_they_reached_litestar(
    client: httpx.AsyncClient,
) -> None:
    payload = {"id": 5}
    body = json.dumps(payload).encode()
    for path, webhook_id in (("/webhooks/shopify/", "slash-1"), ("/webhooks//shopify", "slash-2")):
        response = await client.post(
            path,
            content=body,
            headers={
                "X-Shopify-Topic": "products/update",
                "X-Shopify-Hmac-Sha256": webhook_signature(body, "dev-shopify-secret"),
                "X-Shopify-Webhook-Id": webhook_id,
            },
        )
        assert (response.status_code, response.json()) == (200, {"status": "stored"})
    assert await InboxEvent.count() == 2


async def test_a_body_over_the_limit_is_413_and_not_stored(app: Litestar) -> None:
    intake = WebhookIntake(
        app.state.inbox,
        lambda: None,
        shopify_secrets=["dev-shopify-secret"],
        crm_secrets=[],
        shop_of_crm_account=shop_of_crm_account,
        max_body_bytes=64,
    )
    async with lifespan_of(app), asgi_client(intake) as client:  # type: ignore[arg-type]
        response = await client.post("/webhooks/shopify", content=b"{" + b" " * 100 + b"}")
    assert response.status_code == 413
    assert await InboxEvent.count() == 0


@pytest.mark.postgres
async def test_rows_stored_by_the_intake_are_the_rows_the_orm_would_write(client: httpx.AsyncClient) -> None:
    # One batch (sent together), three events about two products, in this order.
    responses = await asyncio.gather(
        *(
            post_webhook(
                client, "products/update", {"id": entity, "n": n}, shop_domain=SHOP, webhook_id=f"p-{n}"
            )
            for n, entity in enumerate((7, 8, 7))
        )
    )
    assert [response.json()["status"] for response in responses] == ["stored"] * 3

    events = await InboxEvent.select().order_by(InboxEvent.id).output(load_json=True)
    assert [(e["delivery_key"], e["entity_id"], e["payload"]["n"]) for e in events] == [
        ("shopify:p-0", "7", 0),
        ("shopify:p-1", "8", 1),
        ("shopify:p-2", "7", 2),
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

    # UTF-16 is JSON too (json.loads reads it), but neither database stores it as JSON text:
    # that payload is serialised again, and reads back the same.
    utf16 = '{"id": 10, "title": "Crème"}'.encode("utf-16")
    response = await client.post("/webhooks/shopify", content=utf16, headers=signed_delivery(utf16, "utf16"))
    assert response.json() == {"status": "stored"}
    (event,) = (
        await InboxEvent.select().where(InboxEvent.delivery_key == "shopify:utf16").output(load_json=True)
    )
    assert event["payload"] == {"id": 10, "title": "Crème"}


async def test_a_delivery_waits_for_the_write_lock_without_holding_up_other_requests(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # Another connection (a job, say) holds SQLite's write lock for a while.
    database = str(settings.database_url).removeprefix("sqlite:///")
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        body = b'{"id": 11}'
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
