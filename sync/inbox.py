"""The webhook inbox: verified events stored once, then handed to the worker.

The HTTP handler only verifies and stores; every remote call happens in the worker, so
answering stays far inside Shopify's 5-second limit however busy the worker is.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from sync.jobs import JobContext, new_job, utcnow, write_transaction
from sync.tables import InboxEvent, Job

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


def resource_of(topic: str) -> str:
    """products/update (Shopify) and product.updated (CRM) are both about a product."""
    return topic.replace(".", "/").split("/")[0].removesuffix("s")


def entity_id_of(source: str, topic: str, payload: Mapping[str, Any]) -> str | None:
    if source == "crm":
        data = payload.get("data")
        value = data.get("id") if isinstance(data, Mapping) else None
    elif topic.startswith("customers/"):
        customer = payload.get("customer")
        value = customer.get("id") if isinstance(customer, Mapping) else payload.get("id")
    else:
        value = payload.get("id")
    return str(value) if value is not None else None


@dataclass(frozen=True)
class IncomingEvent:
    source: str
    delivery_id: str
    topic: str
    shop_domain: str | None
    payload: dict[str, Any]

    @property
    def delivery_key(self) -> str:
        return f"{self.source}:{self.delivery_id}"


async def store_events(events: Sequence[IncomingEvent]) -> list[bool]:
    """Stores the events and queues their processing in one transaction.

    Returns, per event, False when its delivery was already stored (or repeats an
    earlier event of the same batch): a duplicate vanishes.
    """
    first_of_key: dict[str, IncomingEvent] = {}
    for event in events:
        first_of_key.setdefault(event.delivery_key, event)
    async with write_transaction():
        rows = (
            await InboxEvent.insert(
                *(
                    InboxEvent(
                        source=event.source,
                        delivery_key=key,
                        topic=event.topic,
                        shop_domain=event.shop_domain,
                        entity_id=entity_id_of(event.source, event.topic, event.payload),
                        payload=event.payload,
                    )
                    for key, event in first_of_key.items()
                )
            )
            .on_conflict(action="DO NOTHING")
            .returning(InboxEvent.id, InboxEvent.delivery_key)
        )
        stored = {row["delivery_key"]: row["id"] for row in rows}
        if stored:
            await Job.insert(
                *(inbox_job(stored[key], event) for key, event in first_of_key.items() if key in stored)
            )
    return [event.delivery_key in stored and first_of_key[event.delivery_key] is event for event in events]


def inbox_job(event_id: int, event: IncomingEvent) -> Job:
    entity_id = entity_id_of(event.source, event.topic, event.payload)
    # Events about one entity are processed in the order they arrived.
    ordering_key = f"{event.source}:{resource_of(event.topic)}:{entity_id}" if entity_id else None
    return new_job(
        JOB_PROCESS_INBOX_EVENT,
        {"event_id": event_id},
        shop_domain=event.shop_domain,
        ordering_key=ordering_key,
    )


class InboxWriter:
    """Group commit for webhook intake: deliveries arriving together share one transaction.

    Each caller still gets its answer only after its event is committed, so a 200 always
    means stored; under load one commit serves many requests instead of one each.
    """

    def __init__(self, max_batch: int = 250) -> None:
        self.max_batch = max_batch
        self._pending: list[tuple[IncomingEvent, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, event: IncomingEvent) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(future)

    async def drain(self) -> None:
        """Waits for the commit in progress: on shutdown no stored-but-unanswered write is cut off."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)

    async def _flush(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let requests already in flight join this batch
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                results = await store_events([event for event, _ in batch])
            except Exception as error:  # every waiting request answers with this failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), stored in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(stored)


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
