"""Configuration of the Stripe sandbox."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from sandbox.common.clock import Clock
from sandbox.common.faults import Sleep

API_VERSION = "2026-10-28.endive"


@dataclass(frozen=True)
class WebhookEndpointConfig:
    """One endpoint Stripe would deliver events to, with its signing secret."""

    url: str
    secret: str = "whsec_sandbox"


@dataclass(frozen=True)
class StripeSandboxConfig:
    """Everything the Stripe sandbox needs; defaults suit local development."""

    # The one account's keys: the API accepts only `Authorization: Bearer {secret_key}`.
    secret_key: str = "sk_test_sandbox"
    publishable_key: str = "pk_test_sandbox"
    # The sandbox's own base URL: Checkout and portal URLs point here.
    public_url: str = "http://127.0.0.1:8104"
    # What events carry in `api_version` and responses in the `Stripe-Version` header.
    api_version: str = API_VERSION
    # Endpoints registered at start and after every reset; more via the control API.
    webhook_endpoints: tuple[WebhookEndpointConfig, ...] = ()
    # Epoch seconds for `created`, periods and trials; the control API adds an offset.
    clock: Clock = time.time
    # The `t=` of Stripe-Signature: real time, since receivers check it against their own
    # clock (300 s tolerance), even when the sandbox clock was advanced by months.
    signing_clock: Clock = time.time
    # Delays before the 2nd, 3rd, ... attempt of a delivery that got a non-2xx or no answer.
    webhook_retry_schedule: tuple[float, ...] = (5.0, 60.0, 600.0)
    webhook_timeout: float = 10.0
    # Outgoing webhook HTTP goes through this when set (httpx.MockTransport, ASGITransport).
    webhook_transport: httpx.AsyncBaseTransport | None = None
    # How retries wait; how a `timeout` fault stalls. Tests may pass fast recorders.
    webhook_sleep: Sleep = asyncio.sleep
    fault_sleep: Sleep = asyncio.sleep
    # If set, state is loaded at start and rewritten after every change.
    state_file: Path | None = None
    checkout_session_ttl: int = 24 * 3600
    # Deliveries kept in the log (oldest dropped first).
    delivery_log_size: int = 1000

    @property
    def public_base(self) -> str:
        return self.public_url.rstrip("/")
