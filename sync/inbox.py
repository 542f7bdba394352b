"""The webhook inbox: verified events stored once, then handed to the worker.

The HTTP handler only verifies and stores; every remote call happens in the worker, so
answering stays far inside Shopify's 5-second limit however busy the worker is.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from sync.jobs import JobContext, enqueue, utcnow, write_transaction
from sync.tables import InboxEvent

log = structlog.get_logger("funnelsync.inbox")

JOB_PROCESS_INBOX_EVENT = "sync.process_inbox_event"
PROCESSED, IGNORED = "processed", "ignored"


@dataclass(frozen=True)
class InboxEventData:
    id: int
    source: str
    topic: str
    shop_domain: str | None
    payload: dict[str, Any]


TopicHandler = Callable[[InboxEventData], Awaitable[None]]


def entity_id_of(topic: str, payload: Mapping[str, Any]) -> str | None:
    if topic.startswith("customers/"):
        customer = payload.get("customer")
        value = customer.get("id") if isinstance(customer, Mapping) else payload.get("id")
    else:
        value = payload.get("id")
    return str(value) if value is not None else None


async def record_event(
    *, source: str, delivery_id: str, topic: str, shop_domain: str | None, payload: dict[str, Any]
) -> bool:
    """Stores the event and queues its processing; False when this delivery was already stored."""
    entity_id = entity_id_of(topic, payload)
    async with write_transaction():
        rows = (
            await InboxEvent.insert(
                InboxEvent(
                    source=source,
                    delivery_key=f"{source}:{delivery_id}",
                    topic=topic,
                    shop_domain=shop_domain,
                    entity_id=entity_id,
                    payload=payload,
                )
            )
            .on_conflict(action="DO NOTHING")
            .returning(InboxEvent.id)
        )
        if not rows:
            return False
        # Events about one entity are processed in the order they arrived.
        await enqueue(
            JOB_PROCESS_INBOX_EVENT,
            {"event_id": rows[0]["id"]},
            shop_domain=shop_domain,
            ordering_key=f"{source}:{topic.split('/')[0]}:{entity_id}" if entity_id else None,
        )
    return True


async def process_inbox_event(handlers: Mapping[str, TopicHandler], job: JobContext) -> None:
    row = (
        await InboxEvent.select()
        .where(InboxEvent.id == job.payload["event_id"])
        .output(load_json=True)
        .first()
    )
    if row is None:
        return  # redacted or deleted with its shop since it was queued
    event = InboxEventData(row["id"], row["source"], row["topic"], row["shop_domain"], row["payload"])
    handler = handlers.get(f"{event.source}:{event.topic}")
    if handler is None:
        status = IGNORED
        log.info("inbox_event_ignored", source=event.source, topic=event.topic)
    else:
        await handler(event)
        status = PROCESSED
    await InboxEvent.update({InboxEvent.status: status, InboxEvent.processed_at: utcnow()}).where(
        InboxEvent.id == event.id
    )


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None
