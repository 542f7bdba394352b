"""Per-client request limits: a sliding window over the injected clock.

A sliding window (not a token bucket) because it is what the CRM documents: at most
`requests` calls in any `per_seconds` window, and `Retry-After` says when the oldest
call in the window leaves it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from sandbox.common.clock import Clock


@dataclass(frozen=True)
class RateLimit:
    """Generous by default: development and tests should only hit it on purpose."""

    requests: int = 600
    per_seconds: float = 60.0


class SlidingWindowLimiter:
    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        self.limit = limit
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> int | None:
        """Count one request for `key`; None if allowed, else whole seconds to wait (>= 1)."""
        now = self._clock()
        window = self._hits.setdefault(key, deque())
        while window and window[0] <= now - self.limit.per_seconds:
            window.popleft()
        if len(window) >= self.limit.requests:
            wait = window[0] + self.limit.per_seconds - now
            return max(1, math.ceil(wait))
        window.append(now)
        return None

    def reset(self) -> None:
        self._hits.clear()
