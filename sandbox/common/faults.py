"""Fault injection and write counters, applied to every request outside `/_sandbox/`.

Faults are set through the control API so the app's failure handling can be tested
against the running sandbox: `http_500` answers the next N matching requests with the
service's 500 body; `timeout` stalls them `seconds` and then handles them normally (the
write happens even if the client gave up: the case idempotent retries exist for);
`rate_limit` answers them 429 with `Retry-After: seconds`.

Counters record every write (POST/PUT/PATCH/DELETE) per route template and status, so
tests can prove "exactly one user was created" however many retries the app made.
"""

from __future__ import annotations

import enum
import itertools
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.common.errors import internal_error_body

# The control API and the health probe stay reachable whatever faults are set,
# otherwise a test could not clear them.
UNFAULTABLE_PREFIXES: tuple[str, ...] = ("/_sandbox", "/healthz")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Sleep = Callable[[float], Awaitable[None]]


class FaultKind(enum.StrEnum):
    HTTP_500 = "http_500"
    TIMEOUT = "timeout"
    RATE_LIMIT = "rate_limit"


@dataclass
class Fault:
    id: int
    kind: FaultKind
    path_prefix: str
    remaining: int
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultRegistry:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, kind: FaultKind, *, path_prefix: str, count: int, seconds: float) -> Fault:
        fault = Fault(next(self._ids), kind, path_prefix, max(1, count), seconds)
        self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """Use up one request's worth of the oldest fault matching `path`."""
        if path.startswith(UNFAULTABLE_PREFIXES):
            return None
        for fault in self._faults:
            if path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear(self) -> int:
        cleared = len(self._faults)
        self._faults.clear()
        return cleared

    def active(self) -> list[Fault]:
        return list(self._faults)


class WriteCounters:
    """`{"POST /api/v1/users": {"requests": 3, "responses": {"201": 1, "409": 2}}}`."""

    def __init__(self) -> None:
        self._counts: dict[str, dict[str, int]] = {}

    def record(self, endpoint: str, status: int) -> None:
        per_status = self._counts.setdefault(endpoint, {})
        per_status[str(status)] = per_status.get(str(status), 0) + 1

    def as_json(self) -> dict[str, Any]:
        return {
            endpoint: {"requests": sum(statuses.values()), "responses": dict(sorted(statuses.items()))}
            for endpoint, statuses in sorted(self._counts.items())
        }

    def reset(self) -> None:
        self._counts.clear()


class TrafficMiddleware:
    """ASGI middleware: injects faults before the handler, counts writes after it."""

    def __init__(self, app: ASGIApp, *, faults: FaultRegistry, counters: WriteCounters, sleep: Sleep) -> None:
        self.app = app
        self.faults = faults
        self.counters = counters
        self.sleep = sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        # The template, not the path: ids vary, and a login link's token must not be recorded.
        endpoint = f"{method} {scope.get('path_template') or scope['path']}"
        status = 0

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            fault = self.faults.take(scope["path"])
            if fault is not None and fault.kind is FaultKind.HTTP_500:
                await _send_json(counting_send, 500, internal_error_body(), {})
            elif fault is not None and fault.kind is FaultKind.RATE_LIMIT:
                retry_after = max(1, math.ceil(fault.seconds))
                body = {
                    "error": "rate_limited",
                    "message": f"Too many requests. Retry after {retry_after} seconds.",
                    "retry_after": retry_after,
                }
                await _send_json(counting_send, 429, body, {"retry-after": str(retry_after)})
            else:
                if fault is not None:  # timeout: stall, then answer as usual
                    await self.sleep(fault.seconds)
                await self.app(scope, receive, counting_send)
        finally:
            # The control API steers the sandbox; only the emulated service's writes count.
            if method in WRITE_METHODS and status and not scope["path"].startswith(UNFAULTABLE_PREFIXES):
                self.counters.record(endpoint, status)


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    raw = json.dumps(body).encode()
    all_headers = {
        "content-type": "application/json",
        "content-length": str(len(raw)),
        "cache-control": "no-store",
        **headers,
    }
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode(), v.encode()) for k, v in all_headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": raw, "more_body": False})
