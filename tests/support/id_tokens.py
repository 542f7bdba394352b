"""ID tokens (session tokens) as the Shopify admin gives them to an embedded app, for tests.

Shape from Shopify's documentation ("Session tokens", shopify.dev/docs/apps/build/authentication-
authorization/session-tokens): an HS256 JWT signed with the app's client secret, `iss`
`https://{shop}/admin`, `dest` `https://{shop}`, `aud` the client id, `sub` the user id,
`exp` one minute after `iat`, `nbf`, `jti`, `sid`. Each claim can be overridden to make a
token the app must refuse.
"""

from __future__ import annotations

import secrets
import time

import jwt

DEV_CLIENT_ID = "dev-shopify-key"
DEV_CLIENT_SECRET = "dev-shopify-secret"


def id_token(
    shop_domain: str,
    *,
    secret: str = DEV_CLIENT_SECRET,
    ttl: int = 60,
    **claims: object,
) -> str:
    now = int(time.time())
    payload: dict[str, object] = {
        "iss": f"https://{shop_domain}/admin",
        "dest": f"https://{shop_domain}",
        "aud": DEV_CLIENT_ID,
        "sub": "42",
        "exp": now + ttl,
        "nbf": now,
        "iat": now,
        "jti": secrets.token_hex(16),
        "sid": secrets.token_hex(16),
        **claims,
    }
    return jwt.encode(payload, secret, algorithm="HS256")


def app_home_query(shop_domain: str, token: str) -> dict[str, str]:
    """What the admin adds to the app's URL when it loads the app in its iframe."""
    return {
        "embedded": "1",
        "shop": shop_domain,
        "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtbw",
        "id_token": token,
        "locale": "en",
        "timestamp": str(int(time.time())),
    }


def bearer(token: str) -> dict[str, str]:
    """The headers of an htmx request inside the iframe (embedded.js adds the token)."""
    return {"Authorization": f"Bearer {token}", "HX-Request": "true"}
