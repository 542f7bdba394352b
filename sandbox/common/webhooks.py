"""Outgoing webhooks of a sandbox: signing, at-least-once delivery, delivery faults.

One background task (started and stopped with the app's lifespan) sends every queued
delivery, one at a time, oldest due first. A delivery answered non-2xx, refused,
raising or slower than `timeout` is retried after the next wait of `retry_schedule`
(so `1 + len(retry_schedule)` attempts in all), with the same event id and body; each
attempt is signed afresh. Every attempt is recorded for the control API.

Delivery faults (set through the control API) show the receiver what real networks do:
`duplicate` sends each of the next N events twice; `out_of_order` holds the next N events
and sends them last-first once N are held (or when released); `receiver_down` fails the
next N attempts as if the receiver could not be reached, without contacting it, so they
are retried.

The signature scheme is the common `t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">`
(`sign_payload`); which header carries it and which secret keys it is the sandbox's call.
The Shopify sandbox keeps its own dispatcher (Shopify signs and retries differently).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import heapq
import hmac
import itertools
import json
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from sandbox.common.clock import Clock, iso

MAX_RECORDED_ATTEMPTS = 5000
ANY_ACCOUNT = "*"


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """Compact JSON: the receiver verifies the signature over exactly these bytes."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def sign_payload(secret: str, body: bytes, timestamp: int) -> str:
    """`t=<timestamp>,v1=<hex HMAC-SHA256 of "{timestamp}.{body}" keyed with secret>`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class OutgoingWebhook:
    """One event for one subscription; retries and duplicates reuse it."""

    event_id: str
    topic: str
    account_id: str  # whose resource changed: faults and the delivery log filter on it
    subscription_id: str
    url: str
    body: bytes
    # The request headers for one attempt (signatures carry the time they were made).
    headers: Callable[[bytes], Mapping[str, str]] = field(compare=False, repr=False)


@dataclass
class DeliveryAttempt:
    event_id: str
    topic: str
    account_id: str
    subscription_id: str
    url: str
    attempt: int
    status_code: int | None
    duration_ms: float
    error: str | None
    success: bool
    attempted_at: str
    # No further attempt will follow (success, or the last retry failed).
    final: bool
    duplicate: bool = False
    fault: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class WebhookFaultKind(enum.StrEnum):
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    RECEIVER_DOWN = "receiver_down"


@dataclass
class WebhookFault:
    id: int
    kind: WebhookFaultKind
    account_id: str  # a user/account id, or "*" for every one
    remaining: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class WebhookFaults:
    def __init__(self) -> None:
        self._faults: list[WebhookFault] = []
        self._ids = itertools.count(1)

    def add(self, kind: WebhookFaultKind, *, count: int, account_id: str = ANY_ACCOUNT) -> WebhookFault:
        fault = WebhookFault(next(self._ids), kind, account_id, max(1, count))
        self._faults.append(fault)
        return fault

    def take(self, kind: WebhookFaultKind, account_id: str) -> WebhookFault | None:
        """Use up one event's (or attempt's) worth of the oldest matching fault."""
        for fault in self._faults:
            if fault.kind is kind and fault.account_id in (ANY_ACCOUNT, account_id):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear(self) -> int:
        cleared = len(self._faults)
        self._faults.clear()
        return cleared

    def active(self) -> list[WebhookFault]:
        return list(self._faults)


@dataclass(order=True)
class _Scheduled:
    due: float
    seq: int
    webhook: OutgoingWebhook = field(compare=False)
    attempt: int = field(compare=False)
    duplicate: bool = field(compare=False, default=False)


class WebhookDispatcher:
    def __init__(
        self,
        *,
        retry_schedule: Sequence[float],
        timeout: float,
        transport: Callable[[], httpx.AsyncBaseTransport | None],
        clock: Clock,
        name: str = "sandbox-webhooks",
    ) -> None:
        self._retry_schedule = tuple(retry_schedule)
        self._timeout = timeout
        self._transport = transport
        self._clock = clock
        self._name = name
        self.faults = WebhookFaults()
        self.attempts: deque[DeliveryAttempt] = deque(maxlen=MAX_RECORDED_ATTEMPTS)
        self._queue: list[_Scheduled] = []
        self._seq = itertools.count()
        self._held: dict[int, list[OutgoingWebhook]] = {}
        # Made in start(): an asyncio.Event belongs to the loop that first waits on it.
        self._wake: asyncio.Event | None = None
        self._client: httpx.AsyncClient | None = None
        self._runner: asyncio.Task[None] | None = None
        self._busy = False

    @property
    def max_attempts(self) -> int:
        return 1 + len(self._retry_schedule)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            transport=self._transport(),
            timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 2.0)),
            follow_redirects=False,
        )
        self._wake = asyncio.Event()
        self._runner = asyncio.create_task(self._run(self._wake), name=self._name)

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        self._runner = None
        self._wake = None
        self._busy = False
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def clear(self) -> None:
        """Forget queued and held deliveries, faults and the attempt log (a reset)."""
        self._queue.clear()
        self._held.clear()
        self.faults.clear()
        self.attempts.clear()

    # -- queueing -------------------------------------------------------------------------

    def enqueue(self, webhook: OutgoingWebhook) -> None:
        """Deliver soon, applying any delivery fault set for the webhook's account."""
        reorder = self.faults.take(WebhookFaultKind.OUT_OF_ORDER, webhook.account_id)
        if reorder is not None:
            self._held.setdefault(reorder.id, []).append(webhook)
            if reorder.remaining <= 0:  # the group is complete: send it last-first
                for waiting in reversed(self._held.pop(reorder.id)):
                    self._schedule_new(waiting)
            return
        self._schedule_new(webhook)

    def release_held(self) -> int:
        """Send the events held by unfinished out-of-order faults, last-first."""
        released = 0
        for group in self._held.values():
            for webhook in reversed(group):
                self._schedule_new(webhook)
                released += 1
        self._held.clear()
        return released

    def held_count(self) -> int:
        return sum(len(group) for group in self._held.values())

    def pending_count(self) -> int:
        """Deliveries queued (including waits before retries) or being sent now."""
        return len(self._queue) + (1 if self._busy else 0)

    def _schedule_new(self, webhook: OutgoingWebhook) -> None:
        self._schedule(webhook, attempt=1, delay=0.0)
        if self.faults.take(WebhookFaultKind.DUPLICATE, webhook.account_id) is not None:
            self._schedule(webhook, attempt=1, delay=0.0, duplicate=True)

    def _schedule(
        self, webhook: OutgoingWebhook, *, attempt: int, delay: float, duplicate: bool = False
    ) -> None:
        due = time.monotonic() + delay
        heapq.heappush(self._queue, _Scheduled(due, next(self._seq), webhook, attempt, duplicate))
        if self._wake is not None:
            self._wake.set()

    # -- delivery -------------------------------------------------------------------------

    async def _run(self, wake: asyncio.Event) -> None:
        while True:
            wake.clear()
            if self._queue and self._queue[0].due <= time.monotonic():
                item = heapq.heappop(self._queue)
                self._busy = True
                try:
                    await self._deliver(item)
                finally:
                    self._busy = False
                continue
            wait = self._queue[0].due - time.monotonic() if self._queue else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await wake.wait()

    async def _deliver(self, item: _Scheduled) -> None:
        webhook = item.webhook
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        fault: str | None = None
        if self.faults.take(WebhookFaultKind.RECEIVER_DOWN, webhook.account_id) is not None:
            fault = WebhookFaultKind.RECEIVER_DOWN.value
            error = "ConnectError: the receiver could not be reached (receiver_down fault)"
        else:
            assert self._client is not None
            try:
                # Enforced here too: in-process transports ignore httpx's timeouts.
                async with asyncio.timeout(self._timeout):
                    response = await self._client.post(
                        webhook.url, content=webhook.body, headers=dict(webhook.headers(webhook.body))
                    )
                status = response.status_code
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except TimeoutError:
                error = f"timed out after {self._timeout:g} s"
            except Exception as exc:
                # Connection refused, an in-process receiver raising, ...: a failed attempt
                # to retry, never a crash of the dispatcher.
                error = f"{type(exc).__name__}: {exc}"
        success = error is None
        retry = not success and item.attempt < self.max_attempts
        self.attempts.append(
            DeliveryAttempt(
                event_id=webhook.event_id,
                topic=webhook.topic,
                account_id=webhook.account_id,
                subscription_id=webhook.subscription_id,
                url=webhook.url,
                attempt=item.attempt,
                status_code=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                error=error,
                success=success,
                attempted_at=iso(self._clock()),
                final=not retry,
                duplicate=item.duplicate,
                fault=fault,
            )
        )
        if retry:
            delay = self._retry_schedule[item.attempt - 1]
            self._schedule(webhook, attempt=item.attempt + 1, delay=delay, duplicate=item.duplicate)
