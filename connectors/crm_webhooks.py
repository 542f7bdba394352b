"""The CRM's webhook signature: `X-CRM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`.

The MAC covers `"{t}.{raw body}"` keyed with the app's OAuth client secret at the CRM;
the timestamp bounds replays of a captured delivery.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

TOLERANCE_SECONDS = 300


def crm_signature(body: bytes, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_crm_webhook(body: bytes, header: str | None, secrets: Iterable[str], now: float) -> bool:
    if not header:
        return False
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return False
    candidates = parts.get("v1", [])
    for secret in secrets:
        expected = crm_signature(body, secret, timestamp).partition(",v1=")[2]
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return True
    return False
