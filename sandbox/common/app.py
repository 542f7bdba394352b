"""Routes every OAuth sandbox has, and the Litestar app around a sandbox's own routes.

- `POST /oauth/token`, `GET /.well-known/oauth-authorization-server`
- `GET /healthz`
- control API (not part of the real services; JSON; no auth, development only):
  `POST /_sandbox/reset`, `GET|POST|DELETE /_sandbox/faults`, `GET /_sandbox/counters`,
  `GET /_sandbox/tokens`, `POST /_sandbox/tokens/expire`
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.types import ControllerRouterHandler

from sandbox.common.errors import EXCEPTION_HANDLERS, bad_request, json_object_body
from sandbox.common.faults import FaultKind, TrafficMiddleware
from sandbox.common.oauth import CLIENT_AUTH_METHODS, CLIENT_CREDENTIALS, JWT_BEARER
from sandbox.common.runtime import OAuthSandbox

# What a fault stalls or asks to wait when the control call does not say.
DEFAULT_FAULT_SECONDS = {FaultKind.HTTP_500: 0.0, FaultKind.TIMEOUT: 30.0, FaultKind.RATE_LIMIT: 1.0}


def oauth_handlers(sandbox: OAuthSandbox[Any]) -> list[ControllerRouterHandler]:
    @post("/oauth/token", status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[Any]:
        response = await sandbox.oauth.token_response(request, count_request=sandbox.count_request)
        await sandbox.save()  # a token, or a used jti, changed the state
        return response

    @get("/.well-known/oauth-authorization-server")
    async def metadata() -> dict[str, Any]:
        config = sandbox.config
        return {
            "issuer": config.public_base,
            "token_endpoint": config.token_url,
            "grant_types_supported": [CLIENT_CREDENTIALS, JWT_BEARER],
            "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "scopes_supported": [*config.app_scopes, *config.user_scopes],
        }

    return [token, metadata]


def health_handler(service: str) -> ControllerRouterHandler:
    @get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    return healthz


def control_handlers(sandbox: OAuthSandbox[Any]) -> list[ControllerRouterHandler]:
    @post("/_sandbox/reset", status_code=200)
    async def reset() -> dict[str, str]:
        await sandbox.reset()
        return {"status": "reset"}

    @get("/_sandbox/faults")
    async def list_faults() -> dict[str, Any]:
        return {"data": [f.as_json() for f in sandbox.faults.active()]}

    @post("/_sandbox/faults", status_code=201)
    async def add_fault(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Body: {"kind": "http_500"|"timeout"|"rate_limit", "count": 1,
        "path_prefix": "/api/", "seconds": stall (timeout) or Retry-After (rate_limit)}."""
        body = await json_object_body(request, optional=False)
        try:
            kind = FaultKind(str(body.get("kind")))
        except ValueError as exc:
            raise bad_request(f"kind must be one of {[k.value for k in FaultKind]}") from exc
        count = body.get("count", 1)
        path_prefix = body.get("path_prefix", "/api/")
        seconds = body.get("seconds", DEFAULT_FAULT_SECONDS[kind])
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise bad_request("count must be a positive integer")
        if not isinstance(path_prefix, str) or not path_prefix.startswith("/"):
            raise bad_request("path_prefix must be a path starting with /")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise bad_request("seconds must be a non-negative number")
        fault = sandbox.faults.add(kind, path_prefix=path_prefix, count=count, seconds=float(seconds))
        return fault.as_json()

    @delete("/_sandbox/faults", status_code=200)
    async def clear_faults() -> dict[str, int]:
        return {"cleared": sandbox.faults.clear()}

    @get("/_sandbox/counters")
    async def counters() -> dict[str, Any]:
        return {"writes": sandbox.counters.as_json(), "jwks_fetches": sandbox.jwks.fetches}

    @get("/_sandbox/tokens")
    async def tokens() -> dict[str, Any]:
        """Issued tokens without the tokens themselves (only a hash prefix as id)."""
        now = sandbox.now()
        records = sorted(sandbox.state.oauth.tokens.values(), key=lambda t: t.issued_at)
        return {"data": [t.as_json(now) for t in records]}

    @post("/_sandbox/tokens/expire", status_code=200)
    async def expire_tokens(request: Request[Any, Any, Any]) -> dict[str, int]:
        """Body (optional): {"subject": "usr_..."}; expires all tokens when absent."""
        body = await json_object_body(request, optional=True)
        subject = body.get("subject")
        if subject is not None and not isinstance(subject, str):
            raise bad_request("subject must be a string")
        expired = sandbox.expire_tokens(subject)
        await sandbox.save()
        return {"expired": expired}

    return [reset, list_faults, add_fault, clear_faults, counters, tokens, expire_tokens]


def build_sandbox_app(
    sandbox: OAuthSandbox[Any],
    *,
    service: str,
    state_key: str,
    route_handlers: Sequence[ControllerRouterHandler],
) -> Litestar:
    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        await sandbox.start()
        try:
            yield
        finally:
            await sandbox.stop()

    return Litestar(
        route_handlers=[
            *oauth_handlers(sandbox),
            health_handler(service),
            *control_handlers(sandbox),
            *route_handlers,
        ],
        middleware=[
            DefineMiddleware(
                TrafficMiddleware,
                faults=sandbox.faults,
                counters=sandbox.counters,
                sleep=sandbox.config.fault_sleep,
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        state=State({state_key: sandbox}),
        openapi_config=None,
        # Leave logging alone: sandboxes often share a process (tests, the launcher) with
        # the product, and Litestar's default config would reconfigure the root logger.
        logging_config=None,
    )
