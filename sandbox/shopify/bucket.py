"""Shopify's leaky bucket for calculated query costs, on an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ThrottleStatus:
    maximum_available: float
    currently_available: int
    restore_rate: float

    def as_json(self) -> dict[str, float | int]:
        return {
            "maximumAvailable": self.maximum_available,
            "currentlyAvailable": self.currently_available,
            "restoreRate": self.restore_rate,
        }


class LeakyBucket:
    """Points refill at `restore_rate` per second up to `capacity`; queries spend them.

    The level is settled lazily from the clock whenever it is read, so no timer runs
    and a fake clock moves it exactly. For the control API, `spent` counts the points
    queries actually cost (taken minus refunded) and `left_after_last_query` what the last
    one left in the bucket.
    """

    def __init__(self, capacity: float, restore_rate: float, clock: Callable[[], float]) -> None:
        self.capacity = capacity
        self.restore_rate = restore_rate
        self._clock = clock
        self._level = capacity  # a shop starts with a full bucket
        self._at = clock()
        self.spent = 0.0
        self.left_after_last_query = capacity

    def available(self) -> float:
        now = self._clock()
        elapsed = max(0.0, now - self._at)
        self._level = min(self.capacity, self._level + elapsed * self.restore_rate)
        self._at = now
        return self._level

    def try_take(self, cost: float) -> bool:
        """Take `cost` points if the bucket holds them; otherwise take nothing."""
        if self.available() < cost:
            return False
        self._level -= cost
        self.spent += cost
        self.left_after_last_query = self._level
        return True

    def refund(self, points: float) -> None:
        self.available()
        self._level = min(self.capacity, self._level + max(0.0, points))
        self.spent -= max(0.0, points)
        self.left_after_last_query = self._level

    def drain(self) -> None:
        self.available()
        self._level = 0.0

    def resize(self, capacity: float, restore_rate: float) -> None:
        """A plan change: new limits, keeping what is left (capped at the new size)."""
        level = self.available()
        self.capacity, self.restore_rate = capacity, restore_rate
        self._level = min(capacity, level)

    def seconds_until(self, cost: float) -> float:
        missing = cost - self.available()
        return max(0.0, missing / self.restore_rate) if self.restore_rate else float("inf")

    def status(self) -> ThrottleStatus:
        return ThrottleStatus(
            maximum_available=float(self.capacity),
            # Shopify reports whole points here.
            currently_available=int(self.available()),
            restore_rate=float(self.restore_rate),
        )
