"""Wall-clock time, injectable so tests can move it.

Token and login-link expiry and the JWT `exp`/`iat` checks compare against epoch
seconds, so the sandboxes take a `time.time`-like callable rather than a monotonic one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""Returns the current time as epoch seconds, like `time.time`."""


class ManualClock:
    """A clock that only moves when told to: `clock.advance(61)` expires a login link."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def iso(timestamp: float) -> str:
    """ISO 8601 in UTC with a `Z`, the way the CRM's API writes times."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
