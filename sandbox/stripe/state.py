"""The Stripe sandbox's state: every API object as the JSON Stripe would return.

Objects are kept in creation order in one dict keyed by id (the prefix says the kind),
so lists, persistence and the control API need no per-kind code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATE_VERSION = 1


@dataclass
class IdempotentResult:
    fingerprint: str
    status_code: int
    body: dict[str, Any]
    created: float = 0.0


@dataclass
class StripeState:
    version: int = STATE_VERSION
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Per Checkout Session: what Stripe keeps off the session object (`line_items`,
    # served on a sub-resource, and `subscription_data`).
    session_private: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, IdempotentResult] = field(default_factory=dict)
    webhook_endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    clock_offset: float = 0.0
    # Renewals that will fail (payment_failed, past_due) before payments succeed again.
    failing_payments: int = 0
    # Webhook faults: {"duplicate": n, "out_of_order": n} batches still to be affected.
    webhook_faults: dict[str, int] = field(default_factory=dict)
