"""A REST service behind an OAuth 2.0 server: the CRM and the template service share this.

The app authenticates as itself with client credentials and obtains user tokens with
the JWT bearer grant (RFC 7523): it signs an assertion for the user with its own key,
whose public half it serves as a JWKS. authlib does the OAuth client side; one
AsyncOAuth2Client (an httpx.AsyncClient) per system carries every call.
"""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc7523 import JWTBearerGrant
from joserfc.jwk import ECKey

with warnings.catch_warnings():
    # authlib 1.9 nudges towards the httpx2 fork; httpx works, and our ASGI test transports need it.
    warnings.filterwarnings("ignore", "The httpx module is deprecated", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from connectors.credentials import TokenSource, with_token
from connectors.errors import ExternalServiceError, RateLimited, Rejected, Unauthorized
from lib import metrics
from lib.clock import utcnow

ASSERTION_LIFETIME_SECONDS = 300
# Renew a little early so a token never expires between our check and the call.
EXPIRY_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_at: datetime

    def usable_at(self, now: datetime) -> bool:
        return now + EXPIRY_MARGIN < self.expires_at


def _rate_limit_raises(response: httpx.Response) -> httpx.Response:
    if response.status_code == 429:
        response.raise_for_status()
    return response


class OAuthServiceClient:
    system = "service"

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        signing_key: ECKey,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.signing_key = signing_key
        self.http = AsyncOAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            base_url=self.base_url,
            transport=transport,
            timeout=timeout_seconds,
        )
        # authlib reads a JSON error body as the server's refusal, so a 429 saying "rate_limited"
        # would look like a refused grant; it is raised as the HTTP error it is (retried later).
        self.http.register_compliance_hook("access_token_response", _rate_limit_raises)
        self._app_token: IssuedToken | None = None
        self._app_token_lock = asyncio.Lock()

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _fetch_token(self, **params: str) -> IssuedToken:
        try:
            return await self._request_token(**params)
        except ExternalServiceError as failed:
            # A token that cannot be had stops every call for the account: operators see it here.
            metrics.token_refresh_failures.labels(
                metrics.system_label(self.system), type(failed).__name__
            ).inc()
            raise

    async def _request_token(self, **params: str) -> IssuedToken:
        try:
            token = await self.http.fetch_token(self.token_url, **params)
        except OAuthError as exc:
            if exc.error == "invalid_client":
                raise Unauthorized(self.system, "client credentials refused", status_code=401) from None
            raise Rejected(
                self.system, exc.description or exc.error or "token refused", code=exc.error or ""
            ) from None
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            if status == 429:
                metrics.rate_limited_answers.labels(metrics.system_label(self.system)).inc()
                retry_after = float(exc.response.headers.get("Retry-After", "1"))
                raise RateLimited(self.system, retry_after) from None
            raise ExternalServiceError(
                self.system, f"token endpoint answered {status}", status_code=status
            ) from None
        except httpx.TransportError as exc:
            raise ExternalServiceError(self.system, f"unreachable ({type(exc).__name__})") from None
        except ValueError:  # authlib raises it when the body is not JSON (an HTML 5xx page)
            raise ExternalServiceError(self.system, "token endpoint failed") from None
        if "access_token" not in token:
            raise ExternalServiceError(self.system, "token endpoint failed")
        expires_in = int(token.get("expires_in", 3600))
        return IssuedToken(str(token["access_token"]), utcnow() + timedelta(seconds=expires_in))

    async def app_token(self) -> str:
        async with self._app_token_lock:
            if self._app_token is None or not self._app_token.usable_at(utcnow()):
                self._app_token = await self._fetch_token(grant_type="client_credentials")
            return self._app_token.access_token

    async def user_token(self, subject: str) -> IssuedToken:
        """A token acting as `subject` (the user's id in this system), by JWT bearer grant."""
        assertion = JWTBearerGrant.sign(
            self.signing_key,
            issuer=self.client_id,
            audience=self.token_url,
            subject=subject,
            header={"alg": "ES256", "kid": self.signing_key.thumbprint()},
            expires_in=ASSERTION_LIFETIME_SECONDS,
        )
        return await self._fetch_token(grant_type=JWTBearerGrant.GRANT_TYPE, assertion=assertion)

    async def json(
        self,
        method: str,
        path: str,
        *,
        token: str,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> dict[str, Any]:
        """Calls the API and returns the JSON body of an expected answer; anything else is an error."""
        response = await self.call(method, path, token=token, json=json, params=params)
        if response.status_code not in ok:
            raise rejection(self.system, response)
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    async def find_by_external_id(
        self, collection: str, external_id: str, *, token: str
    ) -> dict[str, Any] | None:
        page = await self.json("GET", collection, token=token, params={"external_id": external_id})
        matches = [row for row in page["data"] if row.get("external_id") == external_id]
        return matches[0] if matches else None

    async def create(
        self, collection: str, body: dict[str, Any], *, token: str
    ) -> tuple[dict[str, Any], bool]:
        """POSTs the resource; on a 409 for its external id, the existing one's id instead.

        Returns the created resource (or `{"id": existing id}`) and whether it was created.
        """
        response = await self.call("POST", collection, token=token, json=body)
        if response.status_code == 201:
            created: dict[str, Any] = response.json()
            return created, True
        if response.status_code == 409 and response.json().get("existing_id"):
            return {"id": response.json()["existing_id"]}, False
        raise rejection(self.system, response)

    async def upsert(self, collection: str, body: dict[str, Any], *, token: str) -> dict[str, Any]:
        """Creates the resource or updates the one with the same external id: safe to repeat."""
        existing = await self.find_by_external_id(collection, str(body["external_id"]), token=token)
        if existing is None:
            existing, created = await self.create(collection, body, token=token)
            if created:
                return existing
        return await self.json("PUT", f"{collection}/{existing['id']}", token=token, json=body)

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Sends one API request and turns failures into connector errors.

        4xx answers other than 401/429 come back to the caller, which knows what a 409
        or a 422 means for its resource.
        """
        try:
            response: httpx.Response = await self.http.request(
                method,
                path,
                json=json,
                params=params,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                withhold_token=True,
            )
        except httpx.TimeoutException:
            raise ExternalServiceError(self.system, "timed out") from None
        except httpx.TransportError as exc:
            raise ExternalServiceError(self.system, f"unreachable ({type(exc).__name__})") from None
        if response.status_code == 401:
            raise Unauthorized(self.system, "token refused", status_code=401)
        if response.status_code == 429:
            metrics.rate_limited_answers.labels(metrics.system_label(self.system)).inc()
            raise RateLimited(self.system, float(response.headers.get("Retry-After", "1")))
        if response.status_code >= 500:
            raise ExternalServiceError(
                self.system, f"answered {response.status_code}", status_code=response.status_code
            )
        return response


def rejection(system: str, response: httpx.Response) -> Rejected:
    """A Rejected error carrying the service's own message for a 4xx answer."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    errors = body.get("errors")
    fields = {str(e.get("field")): str(e.get("message")) for e in errors} if isinstance(errors, list) else {}
    if fields:
        message = "; ".join(f"{field}: {text}" for field, text in fields.items())
    else:
        message = str(body.get("message") or body.get("error") or f"answered {response.status_code}")
    return Rejected(
        system, message, status_code=response.status_code, code=str(body.get("error", "")), fields=fields
    )


@dataclass(frozen=True)
class RemoteAccount:
    id: str
    external_id: str


class AccountServiceClient(OAuthServiceClient):
    """A service where the app signs merchants up, keyed by external id (the shop domain)."""

    collection = "/api/v1/accounts"

    async def find_account(self, external_id: str) -> RemoteAccount | None:
        found = await self.find_by_external_id(self.collection, external_id, token=await self.app_token())
        return RemoteAccount(str(found["id"]), external_id) if found else None

    async def create_account(self, external_id: str, email: str, name: str) -> RemoteAccount:
        """Creates the account, or returns the one that already has this external id."""
        body = {"external_id": external_id, "email": email, "name": name, "shop_domain": external_id}
        account, _ = await self.create(self.collection, body, token=await self.app_token())
        return RemoteAccount(str(account["id"]), external_id)


Service = TypeVar("Service", bound=OAuthServiceClient)


class UserClient(Generic[Service]):
    """A service's API acting as one user (the merchant's account): every call carries the
    user's token from `tokens`, and a refused token is renewed once and the call sent again."""

    def __init__(self, client: Service, tokens: TokenSource) -> None:
        self.client = client
        self._tokens = tokens

    async def json(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> dict[str, Any]:
        """See OAuthServiceClient.json."""
        return await with_token(self._tokens, self._json, method, path, json, params, ok)

    async def _json(
        self,
        token: str,
        method: str,
        path: str,
        json: dict[str, Any] | None,
        params: dict[str, str] | None,
        ok: tuple[int, ...],
    ) -> dict[str, Any]:
        return await self.client.json(method, path, token=token, json=json, params=params, ok=ok)
