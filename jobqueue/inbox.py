"""The webhook inbox: verified events stored once, then handed to the worker.

The HTTP handler only verifies and stores; every remote call happens in the worker, so
answering stays far inside Shopify's 5-second limit however busy the worker is.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from piccolo.engine.sqlite import SQLiteEngine, convert_datetime_in
from piccolo.utils.encoding import dump_json

from jobqueue.jobs import JobContext, new_job
from jobqueue.tables import InboxEvent, InboxStatus, WebhookSource
from lib import metrics
from lib.clock import utcnow

log = structlog.get_logger("funnelsync.inbox")

JOB_PROCESS_INBOX_EVENT = "sync.process_inbox_event"


@dataclass(frozen=True)
class InboxEventData:
    id: int
    source: str
    topic: str
    shop_domain: str | None
    payload: dict[str, Any]
    # Since when the event's job has been waiting for something else to happen first (a
    # handler's RetryLater with a deadline): a handler may give up in its own words before
    # the worker does.
    waiting_since: datetime | None = None


TopicHandler = Callable[[InboxEventData], Awaitable[None]]


def resource_of(topic: str) -> str:
    """products/update (Shopify) and product.updated (CRM) are both about a product."""
    return topic.replace(".", "/").split("/")[0].removesuffix("s")


def entity_id_of(source: str, topic: str, payload: Mapping[str, Any]) -> str | None:
    if source == WebhookSource.CRM:
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
    # The payload's bytes as they arrived, when they are what was parsed into `payload`:
    # stored as is instead of serialising the payload again (Shopify's product payloads run
    # to tens of kilobytes).
    body: bytes | None = None
    # The W3C trace context of the request that took it in (jobqueue/tracing.py), when traced:
    # its job carries it, so the work done later joins the intake's trace.
    trace_context: str | None = None

    @property
    def delivery_key(self) -> str:
        return f"{self.source}:{self.delivery_id}"


@dataclass(frozen=True)
class _Delivery:
    """One event as its inbox row and its job need it, worked out once."""

    key: str
    source: str
    topic: str
    shop_domain: str | None
    entity_id: str | None
    payload: str  # JSON text, as Piccolo's JSON column would store it
    ordering_key: str | None
    trace_context: str | None

    @classmethod
    def of(cls, event: IncomingEvent) -> _Delivery:
        entity_id = entity_id_of(event.source, event.topic, event.payload)
        # Events about one entity are processed in the order they arrived.
        ordering_key = f"{event.source}:{resource_of(event.topic)}:{entity_id}" if entity_id else None
        return cls(
            event.delivery_key,
            event.source,
            event.topic,
            event.shop_domain,
            entity_id,
            _json_text(event.body) or dump_json(event.payload),
            ordering_key,
            event.trace_context,
        )


def _json_text(body: bytes | None) -> str | None:
    """The body as JSON text both databases take, or None when it has to be serialised again:
    json.loads also reads UTF-16/32 and a byte order mark, which neither stores as JSON."""
    if body is None:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if text.startswith("\ufeff") else text


@functools.cache
def _inbox_job_constants() -> tuple[object, ...]:
    # A Table instance costs more than storing a few events: built once, not per batch.
    job = new_job(JOB_PROCESS_INBOX_EVENT, {})
    return job.status, job.attempts, job.max_attempts, job.locked_by, job.last_error


def _inbox_job_defaults(now: object) -> tuple[object, ...]:
    """What every inbox job starts with, in the job inserts' column order (status, attempts,
    max_attempts, run_at, locked_by, last_error, created_at): what new_job gives, so both
    paths write the same row; `now` is when it runs and was created."""
    status, attempts, max_attempts, locked_by, last_error = _inbox_job_constants()
    return status, attempts, max_attempts, now, locked_by, last_error, now


# One statement, so one round trip and atomic without an explicit transaction: the events
# go in, duplicates drop out on the unique delivery key, and each stored event gets its job.
# ORDER BY position keeps ids in arrival order, which per-entity job ordering relies on.
_POSTGRES_STORE = """
WITH incoming AS (
    SELECT * FROM unnest({}::varchar[], {}::varchar[], {}::varchar[], {}::varchar[], {}::varchar[],
                         {}::text[], {}::varchar[], {}::text[])
        WITH ORDINALITY AS delivery(source, delivery_key, topic, shop_domain, entity_id, payload,
                                    ordering_key, trace_context, position)
), stored AS (
    INSERT INTO inbox_event (source, delivery_key, topic, shop_domain, entity_id, payload, status,
                             received_at)
    SELECT source, delivery_key, topic, shop_domain, entity_id, payload::json, {}, {}::timestamptz
    FROM incoming ORDER BY position
    ON CONFLICT (delivery_key) DO NOTHING
    RETURNING id, delivery_key
), queued AS (
    INSERT INTO job (kind, payload, shop_domain, ordering_key, trace_context, status, attempts,
                     max_attempts, run_at, locked_by, last_error, created_at)
    SELECT {}, json_build_object('event_id', stored.id), incoming.shop_domain, incoming.ordering_key,
           incoming.trace_context, {}, {}::integer, {}::integer, {}::timestamptz, {}, {}, {}::timestamptz
    FROM stored JOIN incoming USING (delivery_key) ORDER BY incoming.position
)
SELECT delivery_key FROM stored
"""


async def _store_on_postgres(deliveries: Sequence[_Delivery], now: datetime) -> set[str]:
    rows = await InboxEvent.raw(
        _POSTGRES_STORE,
        [d.source for d in deliveries],
        [d.key for d in deliveries],
        [d.topic for d in deliveries],
        [d.shop_domain for d in deliveries],
        [d.entity_id for d in deliveries],
        [d.payload for d in deliveries],
        [d.ordering_key for d in deliveries],
        [d.trace_context for d in deliveries],
        InboxStatus.RECEIVED.value,
        now,
        JOB_PROCESS_INBOX_EVENT,
        *_inbox_job_defaults(now),
    )
    return {row["delivery_key"] for row in rows}


# (head, one row's placeholders, tail) of the multi-row inserts on SQLite.
_SQLITE_INSERT_EVENTS = (
    "INSERT INTO inbox_event"
    " (source, delivery_key, topic, shop_domain, entity_id, payload, status, received_at) VALUES ",
    "(?, ?, ?, ?, ?, ?, ?, ?)",
    " ON CONFLICT (delivery_key) DO NOTHING RETURNING id, delivery_key",
)
_SQLITE_INSERT_JOBS = (
    "INSERT INTO job (kind, payload, shop_domain, ordering_key, trace_context, status, attempts,"
    " max_attempts, run_at, locked_by, last_error, created_at) VALUES ",
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "",
)


def _multi_row(statement: tuple[str, str, str], rows: int) -> str:
    head, row, tail = statement
    return head + ", ".join([row] * rows) + tail


def _chunks(
    connection: sqlite3.Connection, statement: tuple[str, str, str], items: Sequence[_Delivery]
) -> list[Sequence[_Delivery]]:
    """Splits the rows so no statement has more parameters than this SQLite allows."""
    limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    size = max(1, limit // statement[1].count("?"))
    return [items[start : start + size] for start in range(0, len(items), size)]


class _SQLiteIntake:
    """A connection kept for webhook intake on SQLite: the inserts on the event loop, the
    commit in a thread of its own.

    Piccolo opens a fresh connection (with its own thread) for every transaction and hops
    between the loop and that thread for each statement. Here a batch's inserts are plain
    calls on a warm connection and only the COMMIT, whose fsync is the slow part, leaves the
    loop: a thread takes the GIL back after every statement and every returned row, and while
    the loop is busy serving requests each of those waits up to the 5 ms switch interval (a
    batch of 32 with the loop kept busy: 112 ms with every statement in the thread, 51 ms so).

    Nothing here blocks the loop on a lock: the connection's busy timeout is 0, and while
    another connection holds the write lock BEGIN IMMEDIATE is tried again after a short sleep,
    until the engine's timeout, as SQLite's own busy handler would wait. Once the lock is held
    the inserts never wait: in WAL mode, which the app sets at startup, nothing can. The values
    are the ones Piccolo would write: its sqlite3 adapters (timestamps) are process-wide.
    """

    def __init__(self, engine: SQLiteEngine) -> None:
        self.lock_timeout = float(engine.connection_kwargs.get("timeout", 5.0))
        self.connection_kwargs = {
            **engine.connection_kwargs,
            "timeout": 0,
            # Used from the loop and the commit thread, never at once: a batch's commit is
            # awaited (or, when its caller was cancelled, waited for) before the next begins.
            "check_same_thread": False,
        }
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-sqlite-commit")
        self._connection: sqlite3.Connection | None = None
        self._commit: asyncio.Future[None] | None = None

    @property
    def database(self) -> object:
        return self.connection_kwargs["database"]

    async def store(self, deliveries: Sequence[_Delivery], now: datetime) -> set[str]:
        await self._previous_commit()
        connection = self._connection or self._connect()
        self._connection = connection
        await self._begin(connection)
        try:
            stored = _insert_batch(connection, deliveries, now)
        except BaseException:
            self._abandon(connection)
            raise
        self._commit = asyncio.get_running_loop().run_in_executor(
            self._committer, self._commit_or_abandon, connection
        )
        # Shielded: a cancelled request must not leave its batch half way, nor the connection
        # to two threads; the batch is committed (or rolled back) whatever happens here.
        await asyncio.shield(self._commit)
        return stored

    async def close(self) -> None:
        await self._previous_commit()
        self._disconnect()
        self._committer.shutdown(wait=False)

    async def _previous_commit(self) -> None:
        if self._commit is not None:
            await asyncio.wait([self._commit])
            self._commit = None

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None (Piccolo's setting): transactions are the explicit BEGINs below.
        connection: sqlite3.Connection = sqlite3.connect(**self.connection_kwargs)
        connection.execute("PRAGMA foreign_keys = 1")
        return connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def _begin(self, connection: sqlite3.Connection) -> None:
        pauses = _busy_pauses(self.lock_timeout)
        while True:
            try:
                # The write lock up front, as write_transaction() does: no "database is locked" halfway.
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                pause = _pause_while_busy(error, pauses)
            await asyncio.sleep(pause)  # the lock is another connection's: no way to be told it is free

    def _commit_or_abandon(self, connection: sqlite3.Connection) -> None:
        pauses = _busy_pauses(self.lock_timeout)
        try:
            while True:
                try:
                    connection.execute("COMMIT")
                    return
                except sqlite3.OperationalError as error:
                    # Only outside WAL mode can a commit wait (for readers to finish).
                    pause = _pause_while_busy(error, pauses)
                time.sleep(pause)  # in the commit thread, as SQLite's own busy handler sleeps
        except BaseException:
            self._abandon(connection)
            raise

    def _abandon(self, connection: sqlite3.Connection) -> None:
        """Rolls back; a connection that cannot even do that is replaced on the next batch."""
        try:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        except sqlite3.Error:
            connection.close()
            self._connection = None


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY


def _pause_while_busy(error: sqlite3.OperationalError, pauses: Iterator[float]) -> float:
    """The wait before trying again, or `error` raised: it is not about a busy lock, or the
    waits are used up."""
    pause = next(pauses, None) if _is_busy(error) else None
    if pause is None:
        raise error
    return pause


def _busy_pauses(timeout: float) -> Iterator[float]:
    """Waits between tries at a lock another connection holds, spaced as SQLite's busy handler
    spaces them (1 ms, doubling up to 25 ms), until they add up to `timeout`."""
    waited, pause = 0.0, 0.001
    while waited + pause <= timeout:
        yield pause
        waited += pause
        pause = min(pause * 2, 0.025)


def _insert_batch(connection: sqlite3.Connection, deliveries: Sequence[_Delivery], now: datetime) -> set[str]:
    """The events and their jobs, inside the transaction the caller holds."""
    # Converted once for every row that carries it, as Piccolo's adapter would each time.
    now_text = convert_datetime_in(now)
    job_defaults = _inbox_job_defaults(now_text)
    stored: dict[str, int] = {}
    for chunk in _chunks(connection, _SQLITE_INSERT_EVENTS, deliveries):
        cursor = connection.execute(
            _multi_row(_SQLITE_INSERT_EVENTS, len(chunk)),
            [
                value
                for d in chunk
                for value in (
                    d.source,
                    d.key,
                    d.topic,
                    d.shop_domain,
                    d.entity_id,
                    d.payload,
                    InboxStatus.RECEIVED.value,
                    now_text,
                )
            ],
        )
        stored.update((key, event_id) for event_id, key in cursor.fetchall())
    # Jobs in arrival order (RETURNING's order is unspecified), one per stored event.
    queued = [d for d in deliveries if d.key in stored]
    for chunk in _chunks(connection, _SQLITE_INSERT_JOBS, queued):
        connection.execute(
            _multi_row(_SQLITE_INSERT_JOBS, len(chunk)),
            [
                value
                for d in chunk
                for value in (
                    JOB_PROCESS_INBOX_EVENT,
                    dump_json({"event_id": stored[d.key]}),
                    d.shop_domain,
                    d.ordering_key,
                    d.trace_context,
                    *job_defaults,
                )
            ],
        )
    return set(stored)


class InboxWriter:
    """Group commit for webhook intake: deliveries arriving together share one transaction.

    Each caller still gets its answer only after its event is committed, so a 200 always
    means stored; under load one commit serves many requests instead of one each.
    """

    def __init__(self, max_batch: int = 250) -> None:
        self.max_batch = max_batch
        self._pending: list[tuple[IncomingEvent, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._sqlite: _SQLiteIntake | None = None

    async def record(self, event: IncomingEvent) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        if self._flusher is None or self._flusher.done():
            # A context of its own: the batch belongs to no single request (its request id
            # must not tag the flusher's logs, nor may it join a transaction open there).
            self._flusher = asyncio.create_task(self._flush(), context=contextvars.Context())
        # Not shielded: a request cancelled while waiting (client gone) cancels only its own
        # answer; the flusher skips futures already done, and the event is stored regardless.
        return await future

    async def store(self, events: Sequence[IncomingEvent]) -> list[bool]:
        """Stores the events and queues their processing in one transaction.

        Returns, per event, False when its delivery was already stored (or repeats an
        earlier event of the same batch): a duplicate vanishes.
        """
        first_of_key: dict[str, IncomingEvent] = {}
        for event in events:
            first_of_key.setdefault(event.delivery_key, event)
        deliveries = [_Delivery.of(event) for event in first_of_key.values()]
        engine = InboxEvent._meta.db
        if isinstance(engine, SQLiteEngine):
            stored = await (await self._sqlite_intake(engine)).store(deliveries, utcnow())
        else:
            stored = await _store_on_postgres(deliveries, utcnow())
        return [
            event.delivery_key in stored and first_of_key[event.delivery_key] is event for event in events
        ]

    async def drain(self) -> None:
        """Waits for the commit in progress: on shutdown no stored-but-unanswered write is cut off."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._sqlite is not None:
            await self._sqlite.close()
            self._sqlite = None

    async def _sqlite_intake(self, engine: SQLiteEngine) -> _SQLiteIntake:
        # Tables follow the engine they are bound to now, so a rebound database gets a new connection.
        if self._sqlite is not None and self._sqlite.database != engine.connection_kwargs["database"]:
            await self._sqlite.close()
            self._sqlite = None
        if self._sqlite is None:
            self._sqlite = _SQLiteIntake(engine)
        return self._sqlite

    async def _flush(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let requests already in flight join this batch
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                results = await self.store([event for event, _ in batch])
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
    event = InboxEventData(
        row["id"], row["source"], row["topic"], row["shop_domain"], row["payload"], job.waiting_since
    )
    handler = handlers.get(f"{event.source}:{event.topic}")
    if handler is None:
        status = InboxStatus.IGNORED
        log.info("inbox_event_ignored", source=event.source, topic=event.topic)
    else:
        await handler(event)
        status = InboxStatus.PROCESSED
    processed_at = utcnow()
    await InboxEvent.update({InboxEvent.status: status, InboxEvent.processed_at: processed_at}).where(
        InboxEvent.id == event.id
    )
    if status is InboxStatus.PROCESSED:
        metrics.webhook_applied_lag_seconds.labels(event.source).observe(
            max(0.0, (processed_at - row["received_at"]).total_seconds())
        )


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    # NaN and Infinity are not JSON (RFC 8259) and PostgreSQL refuses them: accepted here,
    # one such event would fail the whole group commit it shares with other deliveries.
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return None
    return payload if isinstance(payload, dict) else None
