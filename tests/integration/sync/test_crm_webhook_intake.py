"""/webhooks/crm: signed over the raw body with a timestamp, stored once, answered at once."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from connectors.crm_webhooks import crm_signature
from jobqueue.tables import InboxEvent

SECRET = "dev-crm-secret"


async def deliver(
    client: httpx.AsyncClient,
    event_id: str = "evt_1",
    *,
    secret: str = SECRET,
    signed_at: float | None = None,
    body: bytes | None = None,
) -> httpx.Response:
    raw = (
        body
        or json.dumps(
            {"id": event_id, "topic": "product.updated", "account_id": "usr_1", "data": {"id": "prd_1"}}
        ).encode()
    )
    return await client.post(
        "/webhooks/crm",
        content=raw,
        headers={
            "Content-Type": "application/json",
            "X-CRM-Event-Id": event_id,
            "X-CRM-Topic": "product.updated",
            "X-CRM-Signature": crm_signature(raw, secret, int(signed_at or time.time())),
        },
    )


@pytest.mark.postgres
async def test_a_signed_event_is_stored_once_however_often_it_comes(client: httpx.AsyncClient) -> None:
    first, again = await deliver(client), await deliver(client)
    assert (first.status_code, first.json()["status"]) == (200, "stored")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    (event,) = await InboxEvent.select(InboxEvent.source, InboxEvent.topic, InboxEvent.entity_id)
    assert event == {"source": "crm", "topic": "product.updated", "entity_id": "prd_1"}


@pytest.mark.parametrize(
    ("secret", "age_seconds"),
    [("not-the-secret", 0), (SECRET, 3600)],
    ids=["wrong secret", "replayed an hour later"],
)
async def test_a_bad_or_stale_signature_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, secret: str, age_seconds: float
) -> None:
    refused = await deliver(client, secret=secret, signed_at=time.time() - age_seconds)
    assert refused.status_code == 401
    assert await InboxEvent.count() == 0


async def test_a_body_changed_after_signing_is_refused(client: httpx.AsyncClient) -> None:
    raw = b'{"id": "evt_2", "topic": "product.updated", "data": {"id": "prd_1"}}'
    signature = crm_signature(raw, SECRET, int(time.time()))
    tampered = await client.post(
        "/webhooks/crm",
        content=raw.replace(b"prd_1", b"prd_9"),
        headers={"X-CRM-Event-Id": "evt_2", "X-CRM-Topic": "product.updated", "X-CRM-Signature": signature},
    )
    assert tampered.status_code == 401
    assert await InboxEvent.count() == 0
