"""Helpers for the CRM and template-service sandbox tests: an app key, a running sandbox.

The "app key" is what the product has: an EC P-256 key whose public half it serves as a
JWKS, used to sign RFC 7523 assertions with authlib's `JWTBearerGrant.sign`. The JWKS is
served by an `httpx.MockTransport` handed to the sandbox as its `http_transport`, so
everything runs in this test's event loop and no traffic leaves the process.

`running_crm()` / `running_templates()` with no arguments reuse one app per sandbox kind,
reset (`OAuthSandbox.reset`) at the start of each test, with a fresh app key, clock time
and sleep recorder: building a Litestar app costs far more than a test. Any argument (a
key, clock, state file or setting) gets a new app, as a restart test needs.

A plain module imported by its package path rather than a conftest.py here: the test
tree then keeps one top-level `conftest` module, and mypy sees the real types.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import httpx
from authlib.oauth2.rfc7523 import JWTBearerGrant
from joserfc.jwk import ECKey
from litestar import Litestar

from sandbox.common.clock import ManualClock
from sandbox.common.config import OAuthSandboxConfig
from sandbox.common.members import MemberSandbox
from sandbox.crm import CrmSandboxConfig, create_crm_sandbox, crm_sandbox_of
from sandbox.templates_service import (
    TemplatesSandboxConfig,
    create_templates_sandbox,
    templates_sandbox_of,
)
from sandbox.tests.asgi_support import asgi_client, lifespan_of

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import AsyncOAuth2Client

CRM_URL = "http://127.0.0.1:8002"
TEMPLATES_URL = "http://127.0.0.1:8003"
APP_JWKS_URL = "http://127.0.0.1:8000/.well-known/jwks.json"
CRM_CLIENT = ("dev-crm-client", "dev-crm-secret")
TEMPLATES_CLIENT = ("dev-templates-client", "dev-templates-secret")
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The precise warning authlib's httpx integration raises when imported with httpx (not httpx2).
AUTHLIB_HTTPX_WARNING = (
    "ignore:The httpx module is deprecated; please use httpx2 instead."
    ":authlib.deprecate.AuthlibDeprecationWarning"
)


def new_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid}, private=True)


class AppKey:
    """The product's signing keys and the JWKS endpoint that publishes their public halves."""

    def __init__(self, kid: str = "app-key-1") -> None:
        self.keys: list[ECKey] = [new_key(kid)]
        self.jwks_requests = 0
        self.expose_private = False  # simulate the product publishing its private key

    @property
    def key(self) -> ECKey:
        return self.keys[0]

    def rotate(self, kid: str) -> ECKey:
        """A new current key; the old one stays published, as in a real rotation."""
        self.keys.insert(0, new_key(kid))
        return self.key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=self.expose_private) for k in self.keys]}

    def handle(self, request: httpx.Request) -> httpx.Response:
        """The product's JWKS endpoint."""
        if str(request.url) != APP_JWKS_URL:
            return httpx.Response(404)
        self.jwks_requests += 1
        return httpx.Response(200, json=self.jwks())

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def assertion(
        self,
        *,
        subject: str,
        issuer: str,
        audience: str,
        issued_at: float,
        expires_in: int = 300,
        key: ECKey | None = None,
        kid: str | None = None,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """Exactly what the product does: authlib's JWTBearerGrant.sign with a joserfc key."""
        signing_key = key or self.key
        return str(
            JWTBearerGrant.sign(
                signing_key,
                issuer=issuer,
                audience=audience,
                subject=subject,
                issued_at=int(issued_at),
                expires_in=expires_in,
                claims=claims,
                header={"alg": "ES256", "kid": kid or signing_key.kid},
            )
        )


class SleepRecorder:
    """Stands in for asyncio.sleep in `timeout` faults: records the stall, waits for nothing."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Harness:
    """One sandbox running in this test's loop, and what a test needs to talk to it."""

    app: Litestar
    sandbox: MemberSandbox[Any]
    http: httpx.AsyncClient
    clock: ManualClock
    key: AppKey
    sleeps: SleepRecorder
    base_url: str
    client_id: str
    client_secret: str
    resource: str  # "users" or "accounts"
    _oauth_clients: list[AsyncOAuth2Client] = field(default_factory=list)

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    async def post_token(
        self, data: dict[str, str], *, auth: tuple[str, str] | None = None
    ) -> httpx.Response:
        client_id, secret = auth or (self.client_id, self.client_secret)
        return await self.http.post("/oauth/token", data=data, headers=basic_auth(client_id, secret))

    async def app_token(self) -> str:
        response = await self.post_token({"grant_type": "client_credentials"})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def assertion_for(self, subject: str, **overrides: Any) -> str:
        values: dict[str, Any] = {
            "subject": subject,
            "issuer": self.client_id,
            "audience": self.token_url,
            "issued_at": self.clock(),
        }
        values.update(overrides)
        return self.key.assertion(**values)

    async def jwt_bearer(self, assertion: str) -> httpx.Response:
        return await self.post_token({"grant_type": JWT_BEARER, "assertion": assertion})

    async def user_token(self, subject: str) -> str:
        response = await self.jwt_bearer(self.assertion_for(subject))
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def create_member(
        self, token: str, shop: str = "acme.myshopify.com", **fields: Any
    ) -> httpx.Response:
        body = {
            "external_id": shop,
            "email": f"owner@{shop}",
            "name": "Acme Owner",
            "shop_domain": shop,
            **fields,
        }
        return await self.http.post(f"/api/v1/{self.resource}", json=body, headers=bearer(token))

    async def new_member(self, shop: str = "acme.myshopify.com") -> dict[str, Any]:
        response = await self.create_member(await self.app_token(), shop)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def oauth_client(
        self, *, auth_method: str = "client_secret_basic", client_secret: str | None = None
    ) -> AsyncOAuth2Client:
        """authlib's own client, as the product uses it, talking to the sandbox in-process.

        Imported here, not at module level: importing it warns (httpx vs httpx2), and the
        tests' precise filter is only active while a test runs.
        """
        from authlib.integrations.httpx_client import AsyncOAuth2Client

        client = AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=client_secret or self.client_secret,
            token_endpoint_auth_method=auth_method,
            transport=httpx.ASGITransport(app=cast(Any, self.app)),
            base_url=self.base_url,
        )
        self._oauth_clients.append(client)
        return client

    async def close(self) -> None:
        for client in self._oauth_clients:
            await client.aclose()

    async def merchant(self, shop: str = "acme.myshopify.com") -> Merchant:
        """A new user/account and its own token (JWT bearer grant), as the product gets them."""
        member = await self.new_member(shop)
        return Merchant(self, str(member["id"]), await self.user_token(member["id"]))

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, f"/_sandbox/{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json()


@dataclass
class Merchant:
    """One merchant's user token on a sandbox: `await acme.post("/api/v1/campaigns", {...})`."""

    harness: Harness
    id: str
    token: str

    async def call(self, method: str, path: str, body: Any = None, **params: str) -> httpx.Response:
        return await self.harness.http.request(
            method, path, json=body, params=params or None, headers=bearer(self.token)
        )

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.call("GET", path, **params)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.call("POST", path, body)

    async def put(self, path: str, body: Any) -> httpx.Response:
        return await self.call("PUT", path, body)

    async def delete(self, path: str) -> httpx.Response:
        return await self.call("DELETE", path)

    async def created(self, path: str, body: Any) -> dict[str, Any]:
        """POST that must answer 201; the created resource."""
        response = await self.post(path, body)
        assert response.status_code == 201, response.text
        resource: dict[str, Any] = response.json()
        return resource


def errors_of(response: httpx.Response) -> dict[str, str]:
    """A 422's field errors as {field: message}."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_failed"
    return {e["field"]: e["message"] for e in body["errors"]}


class _Slot:
    """What a pooled sandbox reaches through: the current test's app key and sleep recorder."""

    def __init__(self) -> None:
        self.key = AppKey()
        self.sleeps = SleepRecorder()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(lambda request: self.key.handle(request))

    async def sleep(self, seconds: float) -> None:
        await self.sleeps(seconds)


@dataclass
class _Pooled:
    app: Litestar
    clock: ManualClock
    slot: _Slot


# One app per sandbox kind for the tests that want a default one: building a Litestar app
# costs tens of milliseconds, a reset almost nothing. Tests that pass a key, clock, state
# file or setting get an app of their own, as before.
_POOL: dict[str, _Pooled] = {}


@asynccontextmanager
async def _running(
    kind: str,
    create: Callable[[Any], Litestar],
    config_type: type[OAuthSandboxConfig],
    sandbox_of: Callable[[Litestar], MemberSandbox[Any]],
    base_url: str,
    client: tuple[str, str],
    resource: str,
    key: AppKey | None,
    clock: ManualClock | None,
    state_file: Path | None,
    overrides: dict[str, Any],
) -> AsyncIterator[Harness]:
    pooled: _Pooled | None = None
    if key is None and clock is None and state_file is None and not overrides:
        pooled = _POOL.get(kind)
        if pooled is None:
            slot = _Slot()
            clock = ManualClock()
            config = config_type(
                public_url=base_url,
                app_jwks_url=APP_JWKS_URL,
                clock=clock,
                http_transport=slot.transport(),
                fault_sleep=slot.sleep,
            )
            pooled = _POOL[kind] = _Pooled(create(config), clock, slot)
        pooled.slot.key, pooled.slot.sleeps = AppKey(), SleepRecorder()
        pooled.clock.now = time.time()
        app, key, clock, sleeps = pooled.app, pooled.slot.key, pooled.clock, pooled.slot.sleeps
    else:
        key = key or AppKey()
        clock = clock or ManualClock()
        sleeps = SleepRecorder()
        config = config_type(
            public_url=base_url,
            app_jwks_url=APP_JWKS_URL,
            clock=clock,
            http_transport=key.transport(),
            state_file=state_file,
            fault_sleep=sleeps,
            **overrides,
        )
        app = create(config)
    async with lifespan_of(app), asgi_client(app, base_url=base_url) as http:
        sandbox = sandbox_of(app)
        if pooled is not None:
            await sandbox.reset()  # what the last test left behind
        harness = Harness(app, sandbox, http, clock, key, sleeps, base_url, *client, resource)
        try:
            yield harness
        finally:
            await harness.close()


def running_crm(
    *,
    key: AppKey | None = None,
    clock: ManualClock | None = None,
    state_file: Path | None = None,
    **overrides: Any,
) -> AbstractAsyncContextManager[Harness]:
    return _running(
        "crm",
        create_crm_sandbox,
        CrmSandboxConfig,
        crm_sandbox_of,
        CRM_URL,
        CRM_CLIENT,
        "users",
        key,
        clock,
        state_file,
        overrides,
    )


def running_templates(
    *,
    key: AppKey | None = None,
    clock: ManualClock | None = None,
    state_file: Path | None = None,
    **overrides: Any,
) -> AbstractAsyncContextManager[Harness]:
    return _running(
        "templates",
        create_templates_sandbox,
        TemplatesSandboxConfig,
        templates_sandbox_of,
        TEMPLATES_URL,
        TEMPLATES_CLIENT,
        "accounts",
        key,
        clock,
        state_file,
        overrides,
    )
