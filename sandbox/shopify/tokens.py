"""Shopify's OAuth: authorization codes, expiring offline tokens and refresh-token rotation.

No HTTP here (sandbox/shopify/oauth.py serves it), so the rules can be tested directly:

- a code is random, single use, bound to shop and client, and lives
  `authorization_code_ttl` seconds (10 minutes);
- `expiring=1` gives an access token living `access_token_ttl` (1 h) and a refresh token
  living `refresh_token_ttl` (90 days); without it, a legacy token that never expires;
- a refresh token works once: using it revokes the access token issued with it and
  returns a new pair; a second use is `invalid_grant`;
- token exchange (an embedded app's ID token for an offline access token) grants the
  scopes of the app's installation in the shop; a token the admin could not have minted
  for this app and shop, now, is `invalid_subject_token`.

Times are epoch seconds from `config.epoch_clock`, so tests move time instead of waiting.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from sandbox.shopify.config import ShopifySandboxConfig
from sandbox.shopify.id_tokens import InvalidIdToken, read_id_token
from sandbox.shopify.models import AccessToken, RefreshToken, Shop, utcnow

INVALID_CODE = "The authorization code was not found or was already used"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_ACCESS_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
ONLINE_ACCESS_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:online-access-token"
MAX_RECORDED_REQUESTS = 1000
_SCOPE = re.compile(r"(unauthenticated_)?(read|write)_[a-z][a-z0-9_]*")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class OAuthError(Exception):
    """An answer of the token endpoint other than 200, with RFC 6749's error body."""

    def __init__(self, status_code: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status_code = status_code
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


# -- scopes ---------------------------------------------------------------------------


def parse_scopes(raw: str) -> list[str]:
    """`a,b, c` to ["a", "b", "c"]: request order kept, blanks and repeats dropped."""
    seen: dict[str, None] = {}
    for part in raw.split(","):
        scope = part.strip()
        if scope:
            seen.setdefault(scope, None)
    return list(seen)


def malformed_scopes(scopes: Iterable[str]) -> list[str]:
    return [s for s in scopes if not _SCOPE.fullmatch(s)]


def covers(scopes: Iterable[str], scope: str) -> bool:
    """Whether `scopes` include `scope`, counting `write_x` as including `read_x`."""
    held = set(scopes)
    if scope in held:
        return True
    for read, write in (("unauthenticated_read_", "unauthenticated_write_"), ("read_", "write_")):
        if scope.startswith(read):
            return write + scope.removeprefix(read) in held
    return False


def granted_scopes(requested: list[str], narrowed: list[str] | None) -> list[str]:
    """What an approval grants: what was asked, or the control setting's scopes that the
    request covers (so a setting of `read_products` turns a `write_products` ask into read)."""
    if narrowed is None:
        return list(requested)
    return [s for s in parse_scopes(",".join(narrowed)) if covers(requested, s)]


def describe_scope(scope: str) -> str:
    """A line for the consent page: read_products -> "View products"."""
    storefront = scope.startswith("unauthenticated_")
    access, _, resource = scope.removeprefix("unauthenticated_").partition("_")
    words = resource.replace("_", " ")
    text = f"View {words}" if access == "read" else f"View and edit {words}"
    return f"{text} on the storefront" if storefront else text


# -- redirect URIs ----------------------------------------------------------------------


def _origin(scheme: str, host: str | None, port: int | None) -> tuple[str, str, int | None]:
    scheme = scheme.lower()
    return scheme, (host or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def redirect_allowed(redirect_uri: str, app_url: str) -> bool:
    """Same origin as the app (scheme, host, port) and a path under the app's path.

    No user info, no fragment and no `.`/`..` segments, which a browser would resolve
    to somewhere else.
    """
    try:
        target, app = urlsplit(redirect_uri), urlsplit(app_url)
        target_origin = _origin(target.scheme, target.hostname, target.port)
        app_origin = _origin(app.scheme, app.hostname, app.port)
    except ValueError:  # a port that is no number
        return False
    if target_origin[0] not in _DEFAULT_PORTS or target_origin != app_origin:
        return False
    if target.username is not None or target.password is not None or target.fragment:
        return False
    path = target.path or "/"
    if any(unquote(segment) in (".", "..") for segment in path.split("/")):
        return False
    app_path = app.path.rstrip("/")
    return not app_path or path == app_path or path.startswith(app_path + "/")


# -- the authorization server -----------------------------------------------------------


@dataclass(frozen=True)
class AuthorizationCode:
    code: str
    shop: str
    client_id: str
    scopes: list[str]
    expires_at: float


@dataclass
class TokenRequest:
    """One call of the token endpoint as `GET /_sandbox/oauth/requests` shows it: no tokens."""

    at: str
    shop: str
    grant_type: str
    outcome: str
    status_code: int
    expiring: bool
    fault: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _secure_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class OAuthServer:
    """Codes live in memory only; tokens live in the shops (and so in the state file)."""

    def __init__(self, config: ShopifySandboxConfig) -> None:
        self.config = config
        self.codes: dict[str, AuthorizationCode] = {}
        self.requests: deque[TokenRequest] = deque(maxlen=MAX_RECORDED_REQUESTS)

    def now(self) -> float:
        return self.config.epoch_clock()

    def reset(self) -> None:
        self.codes.clear()
        self.requests.clear()

    def record(self, shop: str, grant_type: str, *, expiring: bool, fault: str | None = None) -> TokenRequest:
        entry = TokenRequest(_iso(self.now()), shop, grant_type, "pending", 0, expiring, fault)
        self.requests.append(entry)
        return entry

    # -- approval -----------------------------------------------------------------------

    def issue_code(self, shop: Shop, client_id: str, scopes: list[str]) -> str:
        now = self.now()
        for stale in [c for c, entry in self.codes.items() if entry.expires_at <= now]:
            del self.codes[stale]
        code = secrets.token_hex(16)
        self.codes[code] = AuthorizationCode(
            code, shop.domain, client_id, list(scopes), now + self.config.authorization_code_ttl
        )
        return code

    # -- the token endpoint ---------------------------------------------------------------

    def check_client(self, client_id: str, client_secret: str) -> None:
        config = self.config
        if not (_secure_equal(client_id, config.api_key) and _secure_equal(client_secret, config.api_secret)):
            raise OAuthError(
                401, "invalid_client", "Client authentication failed: unknown client or wrong secret"
            )

    def exchange_code(self, shop: Shop, code: str, *, client_id: str, expiring: bool) -> dict[str, Any]:
        entry = self.codes.get(code)
        if entry is None or entry.shop != shop.domain or entry.client_id != client_id:
            raise OAuthError(400, "invalid_request", INVALID_CODE)
        del self.codes[code]  # single use, whatever happens next
        if entry.expires_at <= self.now():
            raise OAuthError(400, "invalid_request", INVALID_CODE)
        shop.installed_scopes = list(entry.scopes)  # the install completes with the token
        return self._issue(shop, client_id, entry.scopes, expiring=expiring)

    def exchange_id_token(
        self,
        shop: Shop,
        *,
        client_id: str,
        subject_token: str,
        subject_token_type: str,
        requested_token_type: str,
        expiring: bool,
    ) -> dict[str, Any]:
        """Token exchange: the app's ID token for an offline access token of the shop."""
        if subject_token_type != ID_TOKEN_TYPE:
            raise OAuthError(400, "invalid_request", f"subject_token_type must be {ID_TOKEN_TYPE}")
        if requested_token_type == ONLINE_ACCESS_TOKEN_TYPE:
            raise OAuthError(
                400,
                "invalid_request",
                "Online access tokens are not emulated by this sandbox; ask for " + OFFLINE_ACCESS_TOKEN_TYPE,
            )
        if requested_token_type != OFFLINE_ACCESS_TOKEN_TYPE:
            raise OAuthError(
                400, "invalid_request", f"requested_token_type must be {OFFLINE_ACCESS_TOKEN_TYPE}"
            )
        try:
            read_id_token(self.config, subject_token, shop=shop, client_id=client_id)
        except InvalidIdToken as exc:
            raise OAuthError(400, "invalid_subject_token", f"The subject token is invalid: {exc}") from exc
        if shop.installed_scopes is None:
            # An ID token outlives an uninstall by up to a minute; the app must reinstall.
            raise OAuthError(401, "invalid_client", "The app is not installed on this shop")
        return self._issue(shop, client_id, shop.installed_scopes, expiring=expiring)

    def refresh(self, shop: Shop, refresh_token: str, *, client_id: str) -> dict[str, Any]:
        entry = shop.refresh_tokens.get(refresh_token)
        if entry is None or entry.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "The refresh token is invalid")
        if entry.used:
            raise OAuthError(400, "invalid_grant", "The refresh token was already used")
        if entry.expires_at <= self.now():
            raise OAuthError(400, "invalid_grant", "The refresh token has expired")
        entry.used = True
        shop.tokens.pop(entry.access_token, None)  # the old access token stops working now
        return self._issue(shop, client_id, entry.scopes, expiring=True)

    def _issue(self, shop: Shop, client_id: str, scopes: list[str], *, expiring: bool) -> dict[str, Any]:
        config, now = self.config, self.now()
        self._prune(shop, now)
        access = AccessToken(
            token="shpat_" + secrets.token_hex(16),
            scopes=list(scopes),
            created_at=utcnow(),
            expires_at=now + config.access_token_ttl if expiring else None,
            client_id=client_id,
        )
        shop.tokens[access.token] = access
        body: dict[str, Any] = {"access_token": access.token, "scope": ",".join(scopes)}
        if expiring:
            refresh = RefreshToken(
                token="shprt_" + secrets.token_hex(16),
                client_id=client_id,
                scopes=list(scopes),
                expires_at=now + config.refresh_token_ttl,
                access_token=access.token,
            )
            shop.refresh_tokens[refresh.token] = refresh
            body["expires_in"] = config.access_token_ttl
            body["refresh_token"] = refresh.token
            body["refresh_token_expires_in"] = config.refresh_token_ttl
        return body

    @staticmethod
    def _prune(shop: Shop, now: float) -> None:
        # Expired tokens would be refused anyway; dropping them keeps the state file small.
        for token in [t for t, entry in shop.tokens.items() if entry.expired(now)]:
            del shop.tokens[token]
        for token in [t for t, entry in shop.refresh_tokens.items() if entry.expires_at <= now]:
            del shop.refresh_tokens[token]

    # -- using and ending tokens ------------------------------------------------------------

    def authenticate(self, shop: Shop, raw_token: str) -> AccessToken | None:
        token = shop.tokens.get(raw_token) if raw_token else None
        if token is None or token.expired(self.now()):
            return None
        return token

    def expire_access_tokens(self, shop: Shop) -> int:
        """Every access token of the shop expires now; refresh tokens keep working."""
        now = self.now()
        live = [t for t in shop.tokens.values() if not t.expired(now)]
        for token in live:
            token.expires_at = now
        return len(live)

    def revoke_tokens(self, shop: Shop) -> int:
        """Every access and refresh token of the shop stops working; the installation stays
        (the app can get a new token by token exchange, as after a refresh token expired)."""
        revoked = len(shop.tokens) + len(shop.refresh_tokens)
        shop.tokens.clear()
        shop.refresh_tokens.clear()
        return revoked

    def revoke_all(self, shop: Shop) -> int:
        """Uninstall: access tokens, refresh tokens and pending codes of the shop go."""
        revoked = len(shop.tokens)
        shop.tokens.clear()
        shop.refresh_tokens.clear()
        for code in [c for c, entry in self.codes.items() if entry.shop == shop.domain]:
            del self.codes[code]
        return revoked
