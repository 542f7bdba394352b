"""Faults injected through the control API, so the app's failure handling can be tested."""

from __future__ import annotations

import enum
import itertools
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any


class FaultKind(enum.StrEnum):
    HTTP_500 = "http_500"  # the next N requests answer 500 with Shopify's error body
    TIMEOUT = "timeout"  # the next N requests stall `seconds` before answering
    THROTTLE = "throttle"  # the next N requests find the shop's bucket drained
    WEBHOOK_DUPLICATE = "webhook_duplicate"  # the next N webhooks are delivered twice
    WEBHOOK_OUT_OF_ORDER = "webhook_out_of_order"  # the next N webhooks arrive reversed
    # The next N requests (with `mutation`: those running that mutation) are applied, then the
    # answer stalls `seconds`: a client that gives up first never learns what happened.
    LOST_ANSWER = "lost_answer"

    @property
    def is_webhook_fault(self) -> bool:
        return self in (FaultKind.WEBHOOK_DUPLICATE, FaultKind.WEBHOOK_OUT_OF_ORDER)


class PathKind(enum.StrEnum):
    """Which kind of request a fault hits; `*` hits all of them."""

    GRAPHQL = "graphql"
    OAUTH = "oauth"
    WEBHOOKS = "webhooks"
    ANY = "*"


ANY_SHOP = "*"


@dataclass
class Fault:
    id: int
    kind: FaultKind
    shop: str
    path: PathKind
    remaining: int
    seconds: float = 0.0
    mutation: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultRegistry:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(
        self,
        kind: FaultKind,
        *,
        shop: str,
        path: PathKind,
        count: int,
        seconds: float = 0.0,
        mutation: str | None = None,
    ) -> Fault:
        if kind.is_webhook_fault:
            path = PathKind.WEBHOOKS
        fault = Fault(next(self._ids), kind, shop.lower(), path, max(1, count), seconds, mutation)
        self._faults.append(fault)
        return fault

    def take(
        self, shop: str, path: PathKind, kinds: tuple[FaultKind, ...], mutations: Collection[str] = ()
    ) -> Fault | None:
        """Use up one request's worth of the oldest matching fault (one fault per request).

        A fault naming a mutation matches only a request running it (`mutations`)."""
        for fault in self._faults:
            if (
                fault.kind in kinds
                and fault.shop in (ANY_SHOP, shop.lower())
                and fault.path in (PathKind.ANY, path)
                and (fault.mutation is None or fault.mutation in mutations)
            ):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear(self, shop: str | None = None) -> int:
        before = len(self._faults)
        if shop is None:
            self._faults.clear()
        else:
            self._faults = [f for f in self._faults if f.shop != shop.lower()]
        return before - len(self._faults)

    def active(self) -> list[Fault]:
        return list(self._faults)
