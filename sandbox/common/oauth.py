"""The OAuth 2.0 authorization server both sandboxes share, on authlib's framework-agnostic base.

Grants: `client_credentials` (an app token) and RFC 7523 JWT bearer (a user token for one
of the client's users/accounts). Client authentication: `client_secret_basic` or
`client_secret_post`. Errors: RFC 6749 §5.2 (400, or 401 + WWW-Authenticate for
`invalid_client`), always with an `error_description`.

Why authlib's `AuthorizationServer` and not a hand-written endpoint: it already gets the
grant dispatch, client authentication and error shapes right, and the product's client is
authlib too, so both ends agree on the details. Three things needed adapting:

- authlib is synchronous, but the JWKS is fetched over HTTP. The Litestar adapter reads the
  assertion's (unverified) header first, makes sure the client's JWKS in the cache holds
  its `kid` (fetching, or refetching once on an unknown kid), and only then runs authlib's
  synchronous flow, whose key lookup reads the cache.
- authlib checks `exp` with `time.time()`; the claim checks here use the injected clock and
  add what the contract requires (`iat`, `sub`, `jti` single use, `exp - iat` <= 5 min).
- authlib refuses plain-HTTP request URIs outside loopback unless a process-wide
  environment variable is set; see `FormOAuth2Request`.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import logging
import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard
from urllib.parse import parse_qsl

import httpx
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc7523 import JWTBearerGrant
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from litestar import Request, Response

from sandbox.common.clock import Clock
from sandbox.common.config import OAuthSandboxConfig

logger = logging.getLogger("sandbox.oauth")

CLIENT_CREDENTIALS = "client_credentials"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
ASSERTION_ALGORITHMS = frozenset({"ES256", "RS256"})
# Private members of the key types a JWKS can hold (RFC 7518 §6): a published JWKS with
# any of them leaks the app's signing key, which the real service refuses too.
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# Expired tokens are kept this long so the API can say "expired" rather than "unknown".
EXPIRED_TOKEN_RETENTION = 24 * 3600

# authlib leaves `error_description` out for some errors; the contract always has one.
DEFAULT_DESCRIPTIONS = {
    "invalid_request": "The request is missing a parameter or is malformed.",
    "invalid_client": "Client authentication failed.",
    "invalid_grant": "The grant is invalid.",
    "unauthorized_client": "The client may not use this grant type.",
    "unsupported_grant_type": "The grant type is not supported.",
    "invalid_scope": "The requested scope is invalid.",
}


class TokenKind(enum.StrEnum):
    APP = "app"  # client credentials: acts for the product itself
    USER = "user"  # JWT bearer: acts as one user/account


@dataclass(frozen=True)
class RegisteredClient(ClientMixin):
    """The product, as registered with the service. Implements authlib's ClientMixin."""

    client_id: str
    client_secret: str
    jwks_url: str
    app_scopes: tuple[str, ...]
    user_scopes: tuple[str, ...]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.app_scopes) | set(self.user_scopes)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in CLIENT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (CLIENT_CREDENTIALS, JWT_BEARER)


@dataclass
class TokenRecord:
    """An issued access token. Only its SHA-256 is kept, so the state file holds no tokens."""

    token_hash: str
    kind: TokenKind
    client_id: str
    subject: str | None
    scope: str
    issued_at: float
    expires_at: float

    def has_scope(self, scope: str) -> bool:
        return scope in self.scope.split()

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "id": self.token_hash[:12],
            "kind": self.kind.value,
            "client_id": self.client_id,
            "subject": self.subject,
            "scope": self.scope,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "expired": self.expires_at <= now,
        }


@dataclass
class OAuthState:
    tokens: dict[str, TokenRecord] = field(default_factory=dict)
    # "{client_id} {jti}" -> the assertion's exp; kept until exp has passed for good.
    used_jtis: dict[str, float] = field(default_factory=dict)

    def prune(self, now: float, leeway: float) -> None:
        self.tokens = {h: t for h, t in self.tokens.items() if t.expires_at + EXPIRED_TOKEN_RETENTION > now}
        # Once exp (plus leeway) has passed the assertion is refused as expired anyway.
        self.used_jtis = {j: exp for j, exp in self.used_jtis.items() if exp + leeway >= now}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Subject:
    """A user/account as authlib's grant sees it."""

    id: str


# -- JWKS ---------------------------------------------------------------------------------


class JwksCache:
    """The clients' public keys, by JWKS URL. Fetched on first use and on an unknown kid."""

    def __init__(self, http: Callable[[], httpx.AsyncClient]) -> None:
        self._http = http
        self._sets: dict[str, KeySet] = {}
        self.fetches = 0

    def key_set(self, url: str) -> KeySet | None:
        return self._sets.get(url)

    def clear(self) -> None:
        self._sets.clear()
        self.fetches = 0

    async def ensure_kid(self, url: str, kid: str) -> None:
        """Make sure the cached JWKS at `url` has `kid`: refetch at most once."""
        cached = self._sets.get(url)
        if cached is not None and _has_kid(cached, kid):
            return
        fresh = await self._fetch(url)
        if not _has_kid(fresh, kid):
            raise InvalidGrantError(description="The assertion's kid is not in the client's JWKS.")

    async def _fetch(self, url: str) -> KeySet:
        self.fetches += 1
        try:
            response = await self._http().get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            logger.warning("JWKS fetch from %s failed: %s", url, type(exc).__name__)
            raise InvalidGrantError(description="The client's JWKS could not be fetched.") from exc
        if response.status_code != 200:
            logger.warning("JWKS fetch from %s answered %s", url, response.status_code)
            raise InvalidGrantError(description="The client's JWKS could not be fetched.")
        try:
            data = response.json()
        except ValueError as exc:
            raise InvalidGrantError(description="The client's JWKS is not JSON.") from exc
        keys = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise InvalidGrantError(description="The client's JWKS has no keys array.")
        if any(PRIVATE_JWK_MEMBERS & set(k) for k in keys):
            raise InvalidGrantError(description="The client's JWKS exposes private key material.")
        if not all(isinstance(k.get("kid"), str) and k["kid"] for k in keys):
            raise InvalidGrantError(description="Every key in the client's JWKS needs a kid.")
        try:
            key_set = KeySet.import_key_set({"keys": keys})
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidGrantError(description="The client's JWKS holds an invalid key.") from exc
        self._sets[url] = key_set
        return key_set


def _has_kid(key_set: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in key_set.keys)


# -- authlib glue ---------------------------------------------------------------------------


class FormPayload(OAuth2Payload):
    def __init__(self, data: dict[str, str], datalist: dict[str, list[str]]) -> None:
        self._data = data
        self._datalist = datalist

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class FormOAuth2Request(OAuth2Request):
    """A token request already read from Litestar (authlib's server code is synchronous)."""

    def __init__(
        self,
        *,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        form: dict[str, str],
        datalist: dict[str, list[str]],
    ) -> None:
        # authlib refuses a non-https URI outside loopback unless the process-wide
        # AUTHLIB_INSECURE_TRANSPORT variable is set, which would also switch the check off
        # for the product's code in the same process. The sandbox serves plain HTTP on
        # purpose (loopback, in-process test hosts), so the check sees a stand-in https URI
        # and the real one is kept: the token endpoint uses the URI for nothing else.
        super().__init__(method, "https://sandbox.invalid/oauth/token", headers=headers)
        self.uri = uri
        self.payload = FormPayload(form, datalist)
        self._form = form

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class SandboxClientCredentialsGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_requested_scope(self) -> None:
        _check_scope(self.request.payload.scope, self.request.client.app_scopes)


class SandboxJWTBearerGrant(JWTBearerGrant):
    """RFC 7523 §2.1 with the contract's stricter claim rules."""

    server: SandboxAuthorizationServer

    def validate_token_request(self) -> None:
        # RFC 7523 makes client authentication optional with this grant; authlib's client
        # sends it anyway. When present it must be right and name the assertion's issuer.
        authenticated: RegisteredClient | None = None
        if _client_credentials_present(self.request):
            authenticated = self.server.authenticate_client(self.request, CLIENT_AUTH_METHODS)
        super().validate_token_request()
        if authenticated is not None and authenticated.client_id != self.request.client.client_id:
            raise InvalidGrantError(description="The assertion's iss is not the authenticated client.")

    def resolve_issuer_client(self, issuer: str) -> RegisteredClient | None:
        return self.server.query_client(issuer)

    def resolve_client_public_key(self, client: RegisteredClient) -> KeySet:
        key_set = self.server.jwks.key_set(client.jwks_url)
        if key_set is None:  # the adapter fetches before authlib runs; this is a safety net
            raise InvalidGrantError(description="The client's JWKS could not be fetched.")
        return key_set

    def get_audiences(self) -> list[str]:
        # The public token URL, and the URL this request really reached (the same thing
        # unless the sandbox is reached through another name).
        return [self.server.token_url, self.request.uri.split("?", 1)[0]]

    def verify_claims(self, claims: Mapping[str, Any]) -> None:
        server = self.server
        now = server.clock()
        leeway = server.leeway
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(a, str) and a in self.get_audiences() for a in audiences):
            raise InvalidGrantError(description="The assertion's aud is not this token endpoint.")
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        if not _is_number(exp):
            raise InvalidGrantError(description="The assertion needs a numeric exp claim.")
        if not _is_number(iat):
            raise InvalidGrantError(description="The assertion needs a numeric iat claim.")
        if exp <= now - leeway:
            raise InvalidGrantError(description="The assertion has expired.")
        if iat > now + leeway:
            raise InvalidGrantError(description="The assertion's iat is in the future.")
        if nbf is not None and (not _is_number(nbf) or nbf > now + leeway):
            raise InvalidGrantError(description="The assertion is not valid yet (nbf).")
        if exp - iat > server.max_assertion_lifetime:
            raise InvalidGrantError(
                description=f"The assertion may live at most {server.max_assertion_lifetime} "
                "seconds (exp - iat)."
            )
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidGrantError(description="The assertion needs a sub claim.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise InvalidGrantError(description="The assertion needs a jti claim.")
        used = server.state().used_jtis
        key = f"{claims['iss']} {jti}"
        if key in used:
            raise InvalidGrantError(description="The assertion's jti has been used before.")
        used[key] = float(exp)

    def authenticate_user(self, subject: str) -> Subject | None:
        # Called after the issuer became request.client: the subject must be one of its own.
        client: RegisteredClient = self.request.client
        if self.server.subject_exists(client.client_id, subject):
            return Subject(subject)
        return None

    def has_granted_permission(self, client: RegisteredClient, user: Subject) -> bool:
        return True  # ownership was checked in authenticate_user

    def validate_requested_scope(self) -> None:
        _check_scope(self.request.payload.scope, self.request.client.user_scopes)


def _is_number(value: object) -> TypeGuard[float]:
    # JSON parsers accept NaN and Infinity, which would slip through every comparison.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_scope(requested: str | None, allowed: tuple[str, ...]) -> None:
    if requested and not set(requested.split()) <= set(allowed):
        raise InvalidScopeError(description=f"Allowed scopes: {' '.join(allowed) or '(none)'}.")


def _client_credentials_present(request: OAuth2Request) -> bool:
    client_id, _secret = extract_basic_authorization(request.headers)
    return bool(client_id) or bool(request.form.get("client_secret"))


@dataclass(frozen=True)
class TokenEndpointResult:
    status_code: int
    body: dict[str, Any]
    headers: list[tuple[str, str]]


class SandboxAuthorizationServer(AuthorizationServer):
    def __init__(
        self,
        config: OAuthSandboxConfig,
        *,
        state: Callable[[], OAuthState],
        subject_exists: Callable[[str, str], bool],
        jwks: JwksCache,
    ) -> None:
        super().__init__(scopes_supported=[*config.app_scopes, *config.user_scopes])
        self.client = RegisteredClient(
            client_id=config.client_id,
            client_secret=config.client_secret,
            jwks_url=config.app_jwks_url,
            app_scopes=config.app_scopes,
            user_scopes=config.user_scopes,
        )
        self.token_url = config.token_url
        self.token_ttl = config.token_ttl
        self.token_prefix = config.token_prefix
        self.clock: Clock = config.clock
        self.leeway = config.assertion_leeway
        self.max_assertion_lifetime = config.assertion_max_lifetime
        self.state = state
        self.subject_exists = subject_exists
        self.jwks = jwks
        self.register_grant(SandboxClientCredentialsGrant)
        self.register_grant(SandboxJWTBearerGrant)
        self.register_token_generator("default", self._generate_token)

    # -- what authlib's base asks for -----------------------------------------------------

    def query_client(self, client_id: str) -> RegisteredClient | None:
        return self.client if client_id == self.client.client_id else None

    def authenticate_client(
        self, request: OAuth2Request, methods: list[str], endpoint: str = "token"
    ) -> RegisteredClient:
        try:
            client: RegisteredClient = super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            # authlib answers 400 for an unknown client sent by client_secret_post; the
            # contract (and RFC 6749's advice) is 401 with a challenge for every failure.
            error.status_code = 401
            raise
        return client

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None  # no signal system here

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request  # the adapter builds it

    def handle_response(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]]
    ) -> TokenEndpointResult:
        return TokenEndpointResult(status, body, headers)

    def handle_error_response(self, request: OAuth2Request, error: OAuth2Error) -> Any:
        status, body, headers = error(self.get_error_uri(request, error))
        body.setdefault(
            "error_description",
            error.get_error_description() or DEFAULT_DESCRIPTIONS.get(error.error, error.error),
        )
        return self.handle_response(status, body, headers)

    def _generate_token(
        self,
        grant_type: str,
        client: RegisteredClient,
        user: Subject | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        token: dict[str, Any] = {
            "access_token": self.token_prefix + secrets.token_urlsafe(32),
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
        }
        if grant_type == CLIENT_CREDENTIALS:
            token["scope"] = scope or " ".join(client.app_scopes)
        # No refresh token for either grant: a new assertion gets a new token.
        return token

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        client: RegisteredClient = request.client
        user: Subject | None = request.user
        now = self.clock()
        state = self.state()
        state.prune(now, self.leeway)
        record = TokenRecord(
            token_hash=hash_token(token["access_token"]),
            kind=TokenKind.USER if user is not None else TokenKind.APP,
            client_id=client.client_id,
            subject=user.id if user is not None else None,
            scope=token.get("scope")
            or request.payload.scope
            or " ".join(client.user_scopes if user is not None else client.app_scopes),
            issued_at=now,
            expires_at=now + self.token_ttl,
        )
        state.tokens[record.token_hash] = record

    # -- the Litestar side ----------------------------------------------------------------

    async def token_response(
        self, request: Request[Any, Any, Any], *, count_request: Callable[[str], None]
    ) -> Response[Any]:
        """`POST /oauth/token`: parse the form, prefetch keys, then run authlib's flow.

        `count_request(client_id)` is called with the caller's claimed client id before
        anything is checked (the rate limit; it raises to refuse the request).
        """
        oauth_request, problem = await self._read_request(request)
        count_request(_claimed_client_id(oauth_request))
        if problem is not None:
            return _to_response(self.handle_error_response(oauth_request, problem))
        try:
            if oauth_request.payload.grant_type == JWT_BEARER:
                await self._prefetch_assertion_key(oauth_request.form.get("assertion"))
        except OAuth2Error as error:
            return _to_response(self.handle_error_response(oauth_request, error))
        return _to_response(self.create_token_response(oauth_request))

    async def _read_request(
        self, request: Request[Any, Any, Any]
    ) -> tuple[FormOAuth2Request, OAuth2Error | None]:
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        body = await request.body()
        pairs: list[tuple[str, str]] = []
        problem: OAuth2Error | None = None
        if content_type != "application/x-www-form-urlencoded":
            problem = InvalidRequestError(
                description="The token request must be application/x-www-form-urlencoded."
            )
        else:
            try:
                pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            except (UnicodeDecodeError, ValueError):
                problem = InvalidRequestError(description="The form body is malformed.")
        datalist: dict[str, list[str]] = {}
        for key, value in pairs:
            datalist.setdefault(key, []).append(value)
        form = {key: values[0] for key, values in datalist.items()}
        oauth_request = FormOAuth2Request(
            method=request.method,
            uri=str(request.url),
            headers=request.headers,
            form=form,
            datalist=datalist,
        )
        if problem is None:
            repeated = sorted(k for k, values in datalist.items() if len(values) > 1)
            if repeated:
                problem = InvalidRequestError(
                    description="Parameters must not repeat: " + ", ".join(repeated)
                )
            elif not form.get("grant_type"):
                problem = InvalidRequestError(description="Missing grant_type.")
        return oauth_request, problem

    async def _prefetch_assertion_key(self, assertion: str | None) -> None:
        if not assertion:
            return  # authlib answers invalid_request for a missing assertion
        try:
            compact = jws.extract_compact(assertion.encode())
            header = compact.headers()
            claims = json.loads(compact.payload)
        except (JoseError, ValueError) as exc:
            raise InvalidGrantError(description="The assertion is not a JWT.") from exc
        if header.get("alg") not in ASSERTION_ALGORITHMS:
            raise InvalidGrantError(description="The assertion must be signed with ES256 or RS256.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidGrantError(description="The assertion's header needs a kid.")
        issuer = claims.get("iss") if isinstance(claims, dict) else None
        client = self.query_client(issuer) if isinstance(issuer, str) else None
        if client is None:
            return  # authlib answers invalid_grant for an unknown issuer
        await self.jwks.ensure_kid(client.jwks_url, kid)


def _claimed_client_id(request: OAuth2Request) -> str:
    """Who says they are calling, before any check: the key the rate limit counts under."""
    client_id, _secret = extract_basic_authorization(request.headers)
    if not client_id:
        client_id = request.form.get("client_id")
    if not client_id and request.form.get("assertion"):
        try:
            claims = json.loads(jws.extract_compact(request.form["assertion"].encode()).payload)
            client_id = claims.get("iss") if isinstance(claims, dict) else None
        except (JoseError, ValueError):
            client_id = None
    return str(client_id) if client_id else "anonymous"


def _to_response(result: TokenEndpointResult) -> Response[Any]:
    return Response(
        content=result.body,
        status_code=result.status_code,
        headers=dict(result.headers),
        media_type="application/json",
    )
