"""Security headers on every response.

The CSP forbids inline script and style, so templates load everything from /static and
htmx is configured (meta tag in the base layout) not to inject its indicator styles.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar.enums import ScopeType
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from shopify_app import Res

from iam.app_home import APP_HOME_STATE_KEY, AppHomeVisit, for_here, location_within
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


def content_security_policy(settings: Settings, frame_ancestors: str = "'none'") -> str:
    # Product images come from the shop's CDN and template previews from the page service
    # (https), or in development from their sandboxes over plain http.
    image_sources = ["'self'", "data:", "https:"]
    for url in (settings.shopify_shop_base_url, settings.templates_base_url):
        origin = origin_of(url)
        if origin.startswith("http://"):
            image_sources.append(origin)
    directives = {
        "default-src": ["'self'"],
        # App Bridge, on the pages the Shopify admin frames, from Shopify's CDN (or its stand-in).
        "script-src": ["'self'", origin_of(settings.shopify_app_bridge_url)],
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
        # Standalone pages may not be framed at all; an app-home page only by the shop's admin
        # (Shopify's package names it, per request: see SecurityHeaders).
        "frame-ancestors": [frame_ancestors],
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
        self.settings = settings

    def _app_home_headers(self, visit: AppHomeVisit) -> list[tuple[bytes, bytes]]:
        """An app-home page's headers: ours, with the package's frame-ancestors for this shop
        only, and its preloads (for here: iam.app_home.for_here)."""
        made = for_here(
            Res(status=200, body="", headers=visit.response_headers),
            self.settings.shopify_app_bridge_url,
            self.settings.shopify_admin_origin,
        )
        package = {name.lower(): value for name, value in made.headers.items()}
        ancestors = package.get("content-security-policy", "").strip().rstrip(";")
        ancestors = ancestors.removeprefix("frame-ancestors").strip() or "'none'"
        policy = content_security_policy(self.settings, ancestors).encode("latin-1")
        extra = [(b"content-security-policy", policy)]
        if "link" in package:
            extra.append((b"link", package["link"].encode("latin-1")))
        return extra + [header for header in self._raw_headers if header[0] != b"content-security-policy"]

    def _within(self, visit: AppHomeVisit, location: bytes) -> bytes:
        moved = location_within(visit, self.settings.shopify_api_key, location.decode("latin-1"))
        return moved.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        # Shared with the layers inside, which note a verified app-home request there.
        state = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                visit = state.get(APP_HOME_STATE_KEY)
                in_admin = visit if isinstance(visit, AppHomeVisit) and visit.document else None
                if in_admin is not None and 300 <= message["status"] < 400:
                    # Any redirect within the app (a step not open yet, back from billing)
                    # keeps the admin's parameters: one rule here, not one per controller.
                    headers = [
                        (name, self._within(in_admin, value) if name.lower() == b"location" else value)
                        for name, value in headers
                    ]
                ours = self._app_home_headers(in_admin) if in_admin is not None else self._raw_headers
                headers.extend(header for header in ours if header[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CsrfUnlessIdToken(CSRFMiddleware):
    """Litestar's CSRF check, except for requests that carry an ID token.

    Inside the Shopify admin's iframe the CSRF cookie never arrives (third-party cookies are
    blocked), and it is not needed: such requests are authenticated by the ID token in their
    `Authorization` header (verified by Shopify's package, iam.app_home), not by a cookie, and a
    cross-site page cannot add that header without a CORS preflight, which the app never grants.
    Everything else (forms with the cookie session, the admin area) is checked as before.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and any(
            name == b"authorization" and value[:7].lower() == b"bearer " for name, value in scope["headers"]
        ):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
