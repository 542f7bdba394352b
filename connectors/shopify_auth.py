"""Shopify's install-link signatures and shop names: pure checks, no I/O.

Webhooks and app-home requests are verified by Shopify's package (`shopify_app`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping

# \Z, not $: `$` also matches before a trailing newline. A shop name is at most 60 characters.
SHOP_NAME_MAX_LENGTH = 60
SHOP_DOMAIN = re.compile(rf"\A[a-zA-Z0-9][a-zA-Z0-9-]{{0,{SHOP_NAME_MAX_LENGTH - 1}}}\.myshopify\.com\Z")
TIMESTAMP_WINDOW_SECONDS = 90


def valid_shop_domain(value: str | None) -> str | None:
    """The shop's canonical (lowercase) domain, or None when it is not a *.myshopify.com name."""
    if value is None or not SHOP_DOMAIN.match(value):
        return None
    return value.lower()


def query_signature(params: Iterable[tuple[str, str]], secret: str) -> str:
    """Hex HMAC-SHA256 over the sorted `k=v` pairs, leaving out `hmac` and `signature`."""
    message = "&".join(f"{key}={value}" for key, value in sorted(params) if key not in {"hmac", "signature"})
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_query(params: Mapping[str, str], secrets: Iterable[str], now: float) -> str | None:
    """None when the signed query is genuine and fresh, else the reason it is not."""
    received = params.get("hmac", "")
    if not received:
        return "the request is not signed"
    pairs = list(params.items())
    if not any(hmac.compare_digest(query_signature(pairs, secret), received) for secret in secrets):
        return "the signature does not match"
    try:
        timestamp = int(params.get("timestamp", ""))
    except ValueError:
        return "the timestamp is missing"
    if abs(now - timestamp) > TIMESTAMP_WINDOW_SECONDS:
        return "the request is too old"
    return None
