"""The running sandbox: state, OAuth server, faults, counters and limits in one object.

Each sandbox subclasses `OAuthSandbox` with its state type and says which subjects (users,
accounts) exist. Everything runs on the event loop, so plain attributes need no locks, and
a check-then-insert with no `await` between is atomic (no duplicate users under races).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import httpx
from litestar import Request

from sandbox.common.config import OAuthSandboxConfig
from sandbox.common.errors import insufficient_scope, invalid_token, rate_limited
from sandbox.common.faults import FaultRegistry, WriteCounters
from sandbox.common.oauth import (
    JwksCache,
    OAuthState,
    SandboxAuthorizationServer,
    TokenKind,
    TokenRecord,
    hash_token,
)
from sandbox.common.persistence import dump_state, load_state, write_atomically
from sandbox.common.ratelimit import SlidingWindowLimiter

JWKS_FETCH_TIMEOUT = httpx.Timeout(5.0)


class SandboxState(Protocol):
    @property
    def version(self) -> int: ...

    @property
    def oauth(self) -> OAuthState: ...


S = TypeVar("S", bound=SandboxState)


class OAuthSandbox(ABC, Generic[S]):
    STATE_VERSION: ClassVar[int] = 1

    def __init__(self, config: OAuthSandboxConfig) -> None:
        self.config = config
        self.state: S = self._initial_state()
        self.faults = FaultRegistry()
        self.counters = WriteCounters()
        self.limiter = SlidingWindowLimiter(config.rate_limit, config.clock)
        self._http: httpx.AsyncClient | None = None
        self.jwks = JwksCache(self.http)
        self.oauth = SandboxAuthorizationServer(
            config, state=lambda: self.state.oauth, subject_exists=self.subject_exists, jwks=self.jwks
        )
        self._save_lock = asyncio.Lock()

    # -- what each sandbox provides ---------------------------------------------------------

    @abstractmethod
    def new_state(self) -> S:
        """An empty state of this sandbox."""

    @abstractmethod
    def state_type(self) -> type[S]: ...

    @abstractmethod
    def subject_exists(self, client_id: str, subject: str) -> bool:
        """Whether `subject` (a user/account id) exists and belongs to `client_id`."""

    def _initial_state(self) -> S:
        path = self.config.state_file
        loaded = load_state(path, self.state_type(), self.STATE_VERSION) if path else None
        return loaded if loaded is not None else self.new_state()

    # -- lifecycle --------------------------------------------------------------------------

    def http(self) -> httpx.AsyncClient:
        """The client for outgoing calls (JWKS), made on first use inside the running loop."""
        if self._http is None:
            self._http = httpx.AsyncClient(transport=self.config.http_transport, timeout=JWKS_FETCH_TIMEOUT)
        return self._http

    async def start(self) -> None:
        if self.config.state_file is not None and not self.config.state_file.exists():
            await self.save()

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await self.save()

    async def save(self) -> None:
        """Write the state file, if any. Serialised on the loop, written off it."""
        path = self.config.state_file
        if path is None:
            return
        async with self._save_lock:
            data = dump_state(self.state)
            await asyncio.to_thread(write_atomically, path, data)

    async def reset(self) -> None:
        self.state = self.new_state()
        self.faults.clear()
        self.counters.reset()
        self.limiter.reset()
        self.jwks.clear()
        await self.save()

    # -- requests ---------------------------------------------------------------------------

    def now(self) -> float:
        return self.config.clock()

    def count_request(self, client_id: str) -> None:
        """Count one request against the client's rate limit; raise 429 when over it."""
        retry_after = self.limiter.hit(client_id)
        if retry_after is not None:
            raise rate_limited(retry_after)

    def authenticate(
        self,
        request: Request[Any, Any, Any],
        *,
        kinds: tuple[TokenKind, ...] = (TokenKind.APP, TokenKind.USER),
        scope: str | None = None,
    ) -> TokenRecord:
        """The request's bearer token, checked; 401/403/429 otherwise."""
        realm = self.config.realm
        header = request.headers.get("authorization")
        if not header:
            raise invalid_token("An access token is required: Authorization: Bearer <token>.", realm)
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise invalid_token("Send the access token with the Bearer scheme.", realm)
        record = self.state.oauth.tokens.get(hash_token(value.strip()))
        if record is None:
            raise invalid_token("The access token is unknown.", realm)
        if record.expires_at <= self.now():
            raise invalid_token("The access token has expired.", realm)
        if record.kind not in kinds:
            needed = (
                "an app token (client_credentials)"
                if kinds == (TokenKind.APP,)
                else ("a user token (JWT bearer grant)")
            )
            raise invalid_token(f"This endpoint needs {needed}.", realm)
        self.count_request(record.client_id)
        if scope is not None:
            self.require_scope(record, scope)
        return record

    def require_scope(self, record: TokenRecord, scope: str) -> None:
        if not record.has_scope(scope):
            raise insufficient_scope(scope, self.config.realm)

    def expire_tokens(self, subject: str | None = None) -> int:
        """Expire every token (or every token of `subject`) now: for tests of re-auth."""
        now = self.now()
        expired = 0
        for record in self.state.oauth.tokens.values():
            if record.expires_at > now and (subject is None or record.subject == subject):
                record.expires_at = now
                expired += 1
        return expired
