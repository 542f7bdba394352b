"""Security headers on every response.

The CSP forbids inline script and style, so templates load everything from /static and
htmx is configured (meta tag in the base layout) not to inject its indicator styles.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from onboarding.settings import Settings


def origin_of(url: str) -> str:
    """The origin of a base URL; a per-shop host (`https://{shop}`) covers every shop."""
    parts = urlsplit(url.replace("{shop}", "*.myshopify.com"))
    return f"{parts.scheme}://{parts.netloc}"


def stripe_page_origins(settings: Settings) -> list[str]:
    """Stripe's hosted Checkout and Billing Portal, which billing forms redirect to (the
    sandbox serves both from its API origin)."""
    if not settings.stripe_api_key:
        return []
    if settings.stripe_api_base:
        return [origin_of(settings.stripe_api_base)]
    return ["https://checkout.stripe.com", "https://billing.stripe.com"]


def content_security_policy(settings: Settings) -> str:
    # Product images come from the shop's CDN (https) or, in development, the sandbox.
    image_sources = ["'self'", "data:", "https:"]
    shop_origin = origin_of(settings.shopify_shop_base_url)
    if shop_origin.startswith("http://"):
        image_sources.append(shop_origin)
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": image_sources,
        "connect-src": ["'self'"],
        # "Open CRM" and "Choose plan" are forms answered by a redirect to the CRM, to
        # Shopify's charge confirmation or to Stripe's checkout: browsers check that hop too.
        "form-action": [
            "'self'",
            origin_of(settings.crm_base_url),
            origin_of(settings.shopify_shop_base_url),
            *stripe_page_origins(settings),
        ],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
        # The app is not embedded in the Shopify admin, so nobody may frame it.
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class SecurityHeaders:
    """Adds the headers to every HTTP response, including routing errors (it wraps the app).

    A header the response already carries is left as the response set it.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        headers = {
            "content-security-policy": content_security_policy(settings),
            "x-content-type-options": "nosniff",
            "referrer-policy": "strict-origin-when-cross-origin",
            "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
            "cross-origin-opener-policy": "same-origin",
        }
        if settings.secure_cookies:
            headers["strict-transport-security"] = "max-age=63072000; includeSubDomains"
        # Encoded once: every response only appends these pairs.
        self._raw_headers = [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in self._raw_headers if header[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
