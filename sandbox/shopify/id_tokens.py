"""ID tokens (Shopify's "session tokens"): what the admin hands an embedded app.

As Shopify documents them: a JWT signed HS256 with the app's client secret, with
`iss` `https://{shop}/admin`, `dest` `https://{shop}`, `aud` the app's client id, `sub`
the merchant user's id, `exp` one minute after `iat`, `nbf` = `iat`, a random `jti` and
`sid`, the admin session. The admin mints one for the app in its iframe (in the URL and
for every `shopify.idToken()`), and the token endpoint reads one back for token exchange.

Times are epoch seconds from `config.epoch_clock`, so tests expire tokens by moving it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from sandbox.shopify.config import ShopifySandboxConfig
from sandbox.shopify.models import Shop

ALGORITHM = "HS256"


class InvalidIdToken(ValueError):
    """The ID token cannot be trusted; the message says why (never shown to a merchant)."""


def merchant_user_id(shop: Shop) -> int:
    """The one merchant user of a sandbox shop: its owner, with a stable numeric id."""
    return 70_000_000 + shop.id


def admin_session_id(shop: Shop, user_id: int) -> str:
    # One admin session per shop user: stable across reloads, like a browser that stays
    # signed in to the admin; the secret-free hash only has to be opaque and unique.
    return hashlib.sha256(f"{shop.domain}:{user_id}:admin-session".encode()).hexdigest()


def id_token_claims(
    config: ShopifySandboxConfig,
    shop: Shop,
    *,
    now: float,
    user_id: int | None = None,
    audience: str | None = None,
    ttl: int | None = None,
) -> dict[str, Any]:
    user = merchant_user_id(shop) if user_id is None else user_id
    issued = int(now)
    return {
        "iss": f"https://{shop.domain}/admin",
        "dest": f"https://{shop.domain}",
        "aud": config.api_key if audience is None else audience,
        "sub": str(user),
        "exp": issued + (config.id_token_ttl if ttl is None else ttl),
        "nbf": issued,
        "iat": issued,
        "jti": str(uuid.uuid4()),
        "sid": admin_session_id(shop, user),
    }


def sign(claims: Mapping[str, Any], secret: str) -> str:
    return jwt.encode({"alg": ALGORITHM, "typ": "JWT"}, dict(claims), OctKey.import_key(secret))


def mint_id_token(
    config: ShopifySandboxConfig,
    shop: Shop,
    *,
    user_id: int | None = None,
    audience: str | None = None,
    ttl: int | None = None,
    secret: str | None = None,
) -> str:
    """A fresh ID token for the app in `shop` (tests may bend audience, lifetime, secret)."""
    claims = id_token_claims(
        config, shop, now=config.epoch_clock(), user_id=user_id, audience=audience, ttl=ttl
    )
    return sign(claims, config.api_secret if secret is None else secret)


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidIdToken(f"the `{name}` claim is missing or not a number")
    return float(value)


def read_id_token(config: ShopifySandboxConfig, token: str, *, shop: Shop, client_id: str) -> dict[str, Any]:
    """The claims of a token the admin could have minted for `client_id` in `shop`, now.

    No leeway: the app's clock may be generous (the official package allows 10 s), the
    issuer is not.
    """
    try:
        decoded = jwt.decode(token, OctKey.import_key(config.api_secret), algorithms=[ALGORITHM])
    except (JoseError, ValueError) as exc:
        raise InvalidIdToken("the token is malformed or its signature is wrong") from exc
    claims = decoded.claims
    now = config.epoch_clock()
    if _number(claims, "exp") <= now:
        raise InvalidIdToken("the token has expired")
    if _number(claims, "nbf") > now:
        raise InvalidIdToken("the token is not valid yet")
    audience = claims.get("aud")
    if audience != client_id and not (isinstance(audience, list) and client_id in audience):
        raise InvalidIdToken("the token was issued for another app")
    if claims.get("dest") != f"https://{shop.domain}" or claims.get("iss") != f"https://{shop.domain}/admin":
        raise InvalidIdToken("the token was issued for another shop")
    if not isinstance(claims.get("sub"), str) or not claims.get("sub"):
        raise InvalidIdToken("the token names no user")
    return claims
