"""Signing as Shopify signs webhook deliveries, for tests that play Shopify.

Shopify documents the header as the base64 HMAC-SHA256 of the raw body with the app's client
secret (shopify.dev, "Deliver webhooks through HTTPS", verify the webhook). The app itself
never computes it: Shopify's package verifies deliveries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def webhook_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
