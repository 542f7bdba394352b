"""Configuration of the CRM sandbox."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from sandbox.common.clock import Clock
from sandbox.common.config import OAuthSandboxConfig

# A login link is a bearer credential in a URL: the CRM lets it live one minute at most.
MAX_LOGIN_LINK_TTL = 60
# Waits (seconds) before each retry of a failed webhook delivery: 4 attempts in all.
DEFAULT_WEBHOOK_RETRY_SCHEDULE: tuple[float, ...] = (1.0, 5.0, 30.0)


@dataclass(frozen=True)
class CrmSandboxConfig(OAuthSandboxConfig):
    """Everything the CRM sandbox needs; defaults suit `python -m sandbox.crm`."""

    client_id: str = "dev-crm-client"
    client_secret: str = "dev-crm-secret"
    public_url: str = "http://127.0.0.1:8002"
    app_scopes: tuple[str, ...] = ("users:read", "users:write")
    user_scopes: tuple[str, ...] = (
        "profile",
        "login_links:write",
        "products:read",
        "products:write",
        "campaigns:read",
        "campaigns:write",
        "payment_processors:read",
        "customers:read",
        "customers:write",
        "orders:read",
        "orders:write",
        "fulfillments:read",
        "fulfillments:write",
    )
    token_prefix: str = "crm_at_"
    realm: str = "crm"
    # Seconds a login link stays valid (at most 60).
    login_link_ttl: int = MAX_LOGIN_LINK_TTL
    # How long a CRM screen session opened by a login link lasts (the cookie's Max-Age).
    session_ttl: int = 8 * 3600
    # Webhooks: waits before each retry, how long one attempt may take, and the transport
    # deliveries go through (None: `http_transport`, which is None outside tests, so real
    # HTTP). `webhook_signing_clock` gives the signature's `t=`: real time by default, so
    # a receiver's tolerance window holds even when `clock` was moved.
    webhook_retry_schedule: Sequence[float] = DEFAULT_WEBHOOK_RETRY_SCHEDULE
    webhook_timeout: float = 10.0
    webhook_transport: httpx.AsyncBaseTransport | None = None
    webhook_signing_clock: Clock = time.time

    def __post_init__(self) -> None:
        if not 0 < self.login_link_ttl <= MAX_LOGIN_LINK_TTL:
            raise ValueError(f"login_link_ttl must be 1..{MAX_LOGIN_LINK_TTL} seconds")
        if any(delay < 0 for delay in self.webhook_retry_schedule) or self.webhook_timeout <= 0:
            raise ValueError("webhook retry waits must be >= 0 and webhook_timeout > 0")
