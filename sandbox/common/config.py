"""What every OAuth-protected sandbox is configured with; each sandbox subclasses it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sandbox.common.clock import Clock
from sandbox.common.faults import Sleep
from sandbox.common.ratelimit import RateLimit

# The product serves its JWKS here in development (`python -m sandbox.launcher` default app URL).
DEFAULT_APP_JWKS_URL = "http://127.0.0.1:8000/.well-known/jwks.json"


@dataclass(frozen=True)
class OAuthSandboxConfig:
    # The one registered client: the product. Subclasses give real defaults.
    client_id: str = "dev-client"
    client_secret: str = "dev-secret"
    # The sandbox's own base URL: login links, the token URL and assertion `aud` use it.
    public_url: str = "http://127.0.0.1:8000"
    # Where the product publishes the public keys that sign its JWT bearer assertions.
    app_jwks_url: str = DEFAULT_APP_JWKS_URL
    # Epoch seconds (time.time-like); tests inject a ManualClock to expire tokens and links.
    clock: Clock = time.time
    # Outgoing HTTP (the JWKS fetch) goes through this when set, e.g. httpx.MockTransport
    # or httpx.ASGITransport, so tests run everything in-process.
    http_transport: httpx.AsyncBaseTransport | None = None
    # If set, state is loaded at start and rewritten on every change.
    state_file: Path | None = None
    # Per-client limit over API and token requests.
    rate_limit: RateLimit = field(default_factory=RateLimit)
    # Lifetime of every access token, app or user.
    token_ttl: int = 3600
    # Longest an assertion may live (`exp - iat`), and the clock skew allowed on exp/iat/nbf.
    assertion_max_lifetime: int = 300
    assertion_leeway: int = 30
    # Scopes an app token (client credentials) and a user token (JWT bearer) may hold.
    app_scopes: tuple[str, ...] = ()
    user_scopes: tuple[str, ...] = ()
    # Prefix of minted access tokens, so a token in the wrong place is recognisable.
    token_prefix: str = "at_"
    # Realm in WWW-Authenticate challenges.
    realm: str = "sandbox"
    # How a `timeout` fault stalls; tests inject a recorder instead of really waiting.
    fault_sleep: Sleep = asyncio.sleep

    @property
    def public_base(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def token_url(self) -> str:
        return f"{self.public_base}/oauth/token"
