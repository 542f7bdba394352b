"""The running Stripe sandbox: state, clock, events and webhook delivery.

Everything runs on the event loop, so handlers mutate `state` without locks. Operations
collect the events they cause with `emit` and hand them to `dispatch` at the end, which
signs and delivers them in the background (with retries and the webhook faults).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
from typing import Any

import httpx

from sandbox.common.faults import FaultRegistry
from sandbox.common.persistence import dump_state, load_state, write_atomically
from sandbox.stripe.config import StripeSandboxConfig
from sandbox.stripe.state import STATE_VERSION, StripeState

logger = logging.getLogger("sandbox.stripe")

PREFIXES = {
    "product": "prod",
    "price": "price",
    "customer": "cus",
    "checkout.session": "cs_test",
    "billing_portal.session": "bps",
    "subscription": "sub",
    "subscription_item": "si",
    "invoice": "in",
    "event": "evt",
    "webhook_endpoint": "we",
}
EVENT_TYPES = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.trial_will_end",
    "invoice.paid",
    "invoice.payment_failed",
)


def new_id(kind: str) -> str:
    length = 40 if kind == "checkout.session" else 14
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return f"{PREFIXES[kind]}_" + "".join(secrets.choice(alphabet) for _ in range(length))


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header value, as stripe.Webhook.construct_event verifies it."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class StripeSandbox:
    def __init__(self, config: StripeSandboxConfig) -> None:
        self.config = config
        self.state = self._fresh_state()
        self.faults = FaultRegistry()
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._save_lock = asyncio.Lock()
        self._pending: list[dict[str, Any]] = []
        # The API request being handled, for events' `request` (None: a page or the clock).
        self.current_request: dict[str, Any] = {"id": None, "idempotency_key": None}

    # -- lifecycle -------------------------------------------------------------------
    def _fresh_state(self) -> StripeState:
        state = StripeState()
        for endpoint in self.config.webhook_endpoints:
            we = self._endpoint_json(endpoint.url, endpoint.secret)
            state.webhook_endpoints[we["id"]] = we
        return state

    def _endpoint_json(self, url: str, secret: str) -> dict[str, Any]:
        return {
            "id": new_id("webhook_endpoint"),
            "object": "webhook_endpoint",
            "url": url,
            "secret": secret,
            "enabled_events": ["*"],
            "status": "enabled",
            "api_version": self.config.api_version,
        }

    async def start(self) -> None:
        path = self.config.state_file
        if path is not None:
            loaded = load_state(path, StripeState, STATE_VERSION)
            if loaded is not None:
                self.state = loaded

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def save(self) -> None:
        path = self.config.state_file
        if path is None:
            return
        async with self._save_lock:
            await asyncio.to_thread(write_atomically, path, dump_state(self.state))

    async def reset(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self.state = self._fresh_state()
        self.faults.clear()
        self._pending.clear()
        await self.save()

    def add_endpoint(self, url: str, secret: str | None) -> dict[str, Any]:
        we = self._endpoint_json(url, secret or "whsec_" + secrets.token_hex(16))
        self.state.webhook_endpoints[we["id"]] = we
        return we

    # -- time and objects -------------------------------------------------------------
    def now(self) -> int:
        return int(self.config.clock() + self.state.clock_offset)

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.state.objects[obj["id"]] = obj
        return obj

    def get(self, object_id: str, kind: str) -> dict[str, Any] | None:
        obj = self.state.objects.get(object_id)
        return obj if obj is not None and obj.get("object") == kind else None

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Objects of `kind`, newest first (Stripe's list order)."""
        return [o for o in reversed(self.state.objects.values()) if o.get("object") == kind]

    # -- events ------------------------------------------------------------------------
    def emit(self, event_type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None) -> None:
        data: dict[str, Any] = {"object": json.loads(json.dumps(obj))}
        if previous:
            data["previous_attributes"] = previous
        event = {
            "id": new_id("event"),
            "object": "event",
            "api_version": self.config.api_version,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": len(self.state.webhook_endpoints),
            "request": dict(self.current_request),
            "type": event_type,
        }
        self.put(event)
        self._pending.append(event)

    def discard_pending(self) -> None:
        self._pending.clear()

    def dispatch(self) -> None:
        """Deliver the events emitted since the last dispatch, as one batch."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        faults = self.state.webhook_faults
        if faults.get("out_of_order", 0) > 0:
            faults["out_of_order"] -= 1
            batch.reverse()
        if faults.get("duplicate", 0) > 0:
            faults["duplicate"] -= 1
            batch = [e for event in batch for e in (event, event)]
        for endpoint in list(self.state.webhook_endpoints.values()):
            self._spawn(self._deliver_batch(endpoint, batch))

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                transport=self.config.webhook_transport, timeout=self.config.webhook_timeout
            )
        return self._http

    async def _deliver_batch(self, endpoint: dict[str, Any], batch: list[dict[str, Any]]) -> None:
        # First attempts in order; a failed event retries on its own so it blocks no other.
        for event in batch:
            if not await self._attempt(endpoint, event, 1):
                self._spawn(self._retry(endpoint, event))

    async def _retry(self, endpoint: dict[str, Any], event: dict[str, Any]) -> None:
        for attempt, delay in enumerate(self.config.webhook_retry_schedule, start=2):
            await self.config.webhook_sleep(delay)
            if await self._attempt(endpoint, event, attempt):
                return

    async def _attempt(self, endpoint: dict[str, Any], event: dict[str, Any], attempt: int) -> bool:
        payload = json.dumps(event, indent=2).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(payload, endpoint["secret"], int(self.config.signing_clock())),
        }
        status: int | None = None
        error: str | None = None
        try:
            response = await self.http().post(endpoint["url"], content=payload, headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        self.state.deliveries.append(
            {
                "event_id": event["id"],
                "type": event["type"],
                "endpoint_id": endpoint["id"],
                "url": endpoint["url"],
                "attempt": attempt,
                "status_code": status,
                "error": error,
                "delivered": ok,
                "at": self.now(),
            }
        )
        overflow = len(self.state.deliveries) - self.config.delivery_log_size
        if overflow > 0:
            del self.state.deliveries[:overflow]
        try:
            await self.save()
        except OSError:
            logger.exception("could not save the Stripe sandbox state")
        return ok
