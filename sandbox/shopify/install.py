"""Install links signed the way Shopify signs the app's install request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import urlencode


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    """Hex HMAC-SHA256 over the sorted `k=v` pairs joined by `&`, without hmac/signature."""
    message = "&".join(
        f"{key}={value}" for key, value in sorted(params.items()) if key not in ("hmac", "signature")
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def host_param(shop_domain: str) -> str:
    """Base64 of the shop's admin URL (no padding), as Shopify sends in `host`."""
    store_name = shop_domain.removesuffix(".myshopify.com")
    raw = f"admin.shopify.com/store/{store_name}".encode()
    return base64.b64encode(raw).decode().rstrip("=")


def install_params(shop_domain: str, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    params = {
        "host": host_param(shop_domain),
        "shop": shop_domain,
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
    }
    params["hmac"] = query_hmac(params, secret)
    return params


def install_url(app_url: str, shop_domain: str, secret: str, *, timestamp: int | None = None) -> str:
    params = install_params(shop_domain, secret, timestamp=timestamp)
    return f"{app_url.rstrip('/')}/shopify/install?{urlencode(params)}"
