"""Webhook delivery: signing, at-least-once delivery with retries, and delivery faults.

One httpx.AsyncClient and one background task (started and stopped in the app's
lifespan) run every delivery. Each attempt is recorded so tests and the demo can see
what was sent, what the receiver answered, and how long it took.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import heapq
import hmac
import itertools
import json
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from sandbox.shopify.config import ShopifySandboxConfig
from sandbox.shopify.faults import FaultKind, FaultRegistry, PathKind

MAX_RECORDED_ATTEMPTS = 5000


def sign_webhook(body: bytes, secret: str) -> str:
    """`X-Shopify-Hmac-Sha256`: base64 of HMAC-SHA256 over the exact body bytes."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    # Compact, like Shopify; the receiver must verify these exact bytes.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class WebhookEvent:
    """One delivery target of one event; retries reuse it, so the webhook id stays."""

    webhook_id: str
    event_id: str
    topic: str
    shop: str
    api_version: str
    callback_url: str
    body: bytes
    triggered_at: str
    subscription_id: int | None

    def headers(self, secret: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": self.topic,
            "X-Shopify-Hmac-Sha256": sign_webhook(self.body, secret),
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Webhook-Id": self.webhook_id,
            "X-Shopify-Event-Id": self.event_id,
            "X-Shopify-Triggered-At": self.triggered_at,
        }


@dataclass
class DeliveryAttempt:
    webhook_id: str
    event_id: str
    topic: str
    shop: str
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

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(order=True)
class _Scheduled:
    due: float
    seq: int
    event: WebhookEvent = field(compare=False)
    attempt: int = field(compare=False)
    duplicate: bool = field(compare=False, default=False)


def new_event_id() -> str:
    return str(uuid.uuid4())


def make_event(
    *,
    topic: str,
    shop: str,
    api_version: str,
    callback_url: str,
    payload: Mapping[str, Any],
    event_id: str,
    subscription_id: int | None,
    include_fields: list[str] | None = None,
) -> WebhookEvent:
    if include_fields:
        # Subscriptions with includeFields get only those top-level keys, as on Shopify.
        payload = {k: v for k, v in payload.items() if k in include_fields}
    return WebhookEvent(
        webhook_id=str(uuid.uuid4()),
        event_id=event_id,
        topic=topic,
        shop=shop,
        api_version=api_version,
        callback_url=callback_url,
        body=encode_payload(payload),
        triggered_at=_now_iso(),
        subscription_id=subscription_id,
    )


class WebhookDispatcher:
    def __init__(
        self,
        config: ShopifySandboxConfig,
        faults: FaultRegistry,
        on_exhausted: Callable[[WebhookEvent], None],
    ) -> None:
        self._config = config
        self._faults = faults
        self._on_exhausted = on_exhausted
        self._queue: list[_Scheduled] = []
        self._seq = itertools.count()
        # Made in start(): an asyncio.Event belongs to the loop that first waits on it.
        self._wake: asyncio.Event | None = None
        self._held: dict[int, list[WebhookEvent]] = {}
        self._client: httpx.AsyncClient | None = None
        self._runner: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self.attempts: deque[DeliveryAttempt] = deque(maxlen=MAX_RECORDED_ATTEMPTS)

    @property
    def max_attempts(self) -> int:
        return 1 + len(self._config.webhook_retry_schedule)

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        timeout = httpx.Timeout(self._config.webhook_timeout, connect=1.0)
        self._client = httpx.AsyncClient(
            transport=self._config.webhook_transport, timeout=timeout, follow_redirects=False
        )
        self._wake = asyncio.Event()
        self._runner = asyncio.create_task(self._run(self._wake), name="shopify-sandbox-webhooks")

    async def stop(self) -> None:
        tasks = [t for t in (self._runner, *self._in_flight) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._runner = None
        self._wake = None
        self._in_flight.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- queueing -------------------------------------------------------------------

    def enqueue(self, event: WebhookEvent) -> None:
        """Deliver soon, applying any webhook fault injected for this shop."""
        reorder = self._faults.take(event.shop, PathKind.WEBHOOKS, (FaultKind.WEBHOOK_OUT_OF_ORDER,))
        if reorder is not None:
            held = self._held.setdefault(reorder.id, [])
            held.append(event)
            if reorder.remaining <= 0:
                # The group is complete: deliver it last-first.
                for waiting in reversed(self._held.pop(reorder.id)):
                    self._schedule_new(waiting)
            return
        self._schedule_new(event)

    def _schedule_new(self, event: WebhookEvent) -> None:
        self._schedule(event, attempt=1, delay=0.0)
        duplicate = self._faults.take(event.shop, PathKind.WEBHOOKS, (FaultKind.WEBHOOK_DUPLICATE,))
        if duplicate is not None:
            self._schedule(event, attempt=1, delay=0.0, duplicate=True)

    def release_held(self) -> int:
        """Deliver events held by an unfinished out-of-order fault, last-first."""
        released = 0
        for group in self._held.values():
            for event in reversed(group):
                self._schedule_new(event)
                released += 1
        self._held.clear()
        return released

    def held_count(self) -> int:
        return sum(len(group) for group in self._held.values())

    def pending_count(self) -> int:
        return len(self._queue) + len(self._in_flight)

    def _schedule(self, event: WebhookEvent, *, attempt: int, delay: float, duplicate: bool = False) -> None:
        due = time.monotonic() + delay
        heapq.heappush(self._queue, _Scheduled(due, next(self._seq), event, attempt, duplicate))
        if self._wake is not None:
            self._wake.set()

    # -- delivery -------------------------------------------------------------------

    async def _run(self, wake: asyncio.Event) -> None:
        while True:
            wake.clear()
            now = time.monotonic()
            while self._queue and self._queue[0].due <= now:
                item = heapq.heappop(self._queue)
                task = asyncio.create_task(self._deliver(item))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            wait = self._queue[0].due - now if self._queue else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await wake.wait()

    async def _deliver(self, item: _Scheduled) -> None:
        assert self._client is not None
        event = item.event
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            # Enforced here too because in-process transports ignore httpx's timeouts.
            async with asyncio.timeout(self._config.webhook_timeout):
                response = await self._client.post(
                    event.callback_url,
                    content=event.body,
                    headers=event.headers(self._config.api_secret),
                )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except TimeoutError:
            error = f"timed out after {self._config.webhook_timeout:g} s"
        except Exception as exc:
            # Connection refused, an in-process receiver raising, ...: all count as a
            # failed attempt to retry, never as a crash of the dispatcher.
            error = f"{type(exc).__name__}: {exc}"
        success = error is None
        retry = not success and item.attempt < self.max_attempts
        self.attempts.append(
            DeliveryAttempt(
                webhook_id=event.webhook_id,
                event_id=event.event_id,
                topic=event.topic,
                shop=event.shop,
                url=event.callback_url,
                attempt=item.attempt,
                status_code=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                error=error,
                success=success,
                attempted_at=_now_iso(),
                final=not retry,
                duplicate=item.duplicate,
            )
        )
        if retry:
            delay = self._config.webhook_retry_schedule[item.attempt - 1]
            self._schedule(event, attempt=item.attempt + 1, delay=delay, duplicate=item.duplicate)
        elif not success and self._config.remove_subscription_after_failed_deliveries:
            self._on_exhausted(event)
