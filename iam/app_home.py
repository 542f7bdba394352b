"""The embedded app home: requests from inside the Shopify admin's iframe.

Shopify's package (`shopifyapp`) is the judge here, and its answers are used as it gives them:
it verifies each request by its ID token (the `id_token` query parameter on a page load,
`Authorization: Bearer` on an htmx request), names the shop (never the request itself), makes
the answers for refused requests, the patch-ID-token page and leaving the iframe, and
exchanges the ID token of a shop installed the Shopify-managed way for an expiring offline
token. Nothing here depends on a cookie: inside the iframe third-party cookies are blocked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog
from shopify_app import IdTokenDetails, RequestInput, Res
from shopify_app.helpers.app_home_redirect import app_home_redirect
from shopify_app.types import AppConfig

from connectors.errors import ExternalServiceError
from connectors.shopify_auth import valid_shop_domain
from iam.context import IamContext
from iam.install import MissingScopes, save_connected_shop
from iam.scopes import missing_scopes
from iam.tables import Shop, ShopConnection
from iam.tokens import (
    ShopNotConnected,
    grant_of,
    resume_waiting_jobs,
    shop_access_token,
    shop_token_lock,
    token_columns,
)

log = structlog.get_logger("funnelsync.app_home")

# The route that serves the package's patch-ID-token page (every verify names it).
PATCH_ID_TOKEN_PATH = "/auth/patch-id-token"  # noqa: S105 - a route, not a secret
# Where the package's own answers load App Bridge and which admin may frame them.
SHOPIFY_APP_BRIDGE_URL = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
SHOPIFY_ADMIN_ORIGIN = "https://admin.shopify.com"
# Where state about this request is kept for the layers that answer it (headers, templates).
APP_HOME_STATE_KEY = "app_home"


@dataclass(frozen=True)
class AppHomeVisit:
    """A verified request from the app home: the shop is the one its ID token names."""

    shop_domain: str
    user_id: str | None
    # A page load (the ID token in the query), not an htmx request (the token in a header).
    document: bool
    # The package's headers for a page load (CSP frame-ancestors for this shop only, preloads).
    response_headers: dict[str, str]
    id_token: IdTokenDetails
    invalid_token_response: Res | None
    request: RequestInput = field(repr=False)

    @property
    def shop_name(self) -> str:
        return self.shop_domain.removesuffix(".myshopify.com")


class AppHomeRefused(Exception):
    """The package refused the request (or asked for a fresh ID token): its response, as made."""

    def __init__(self, response: Res, code: str) -> None:
        super().__init__(code)
        self.response = response
        self.code = code


class ConnectionFailed(Exception):
    """The token exchange failed; the message is for the merchant, the hint says what to do."""

    def __init__(self, message: str, hint: str, *, reinstall: bool = False) -> None:
        super().__init__(message)
        self.hint = hint
        self.reinstall = reinstall


def location_within(visit: AppHomeVisit, client_id: str, location: str) -> str:
    """Where a redirect to another page of the app goes when it answers a page load inside the
    admin's iframe: the package's in-iframe redirect keeps the admin's parameters (shop, host,
    embedded), without which the next page could not get its ID token. Other places unchanged."""
    if not location.startswith("/") or location.startswith("//"):
        return location
    # The in-iframe redirect reads only the client id of the app's configuration.
    config = AppConfig(client_id=client_id, client_secret="", old_client_secret=None)
    moved = app_home_redirect(visit.request, config, location, visit.shop_name)
    headers = {name.lower(): value for name, value in moved.response.headers.items()}
    return headers.get("location", location) if moved.ok else location


def is_app_home_request(headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    """Whether a request comes from inside the admin's iframe (and so must carry an ID token).

    Page loads from the admin carry `embedded=1` and an `id_token`; htmx requests inside it an
    `Authorization` header; and a link followed inside the iframe arrives without either, but
    the browser says it loads a frame (our standalone pages cannot be framed at all), so the
    package can send it for a fresh token.
    """
    return (
        "authorization" in headers
        or "id_token" in query
        or query.get("embedded") == "1"
        or headers.get("sec-fetch-dest") == "iframe"
    )


def package_request(method: str, headers: Mapping[str, str], url: str, body: str) -> RequestInput:
    """The package's shape of a request: method, every header, the full URL and the raw body."""
    return {"method": method, "headers": dict(headers), "url": url, "body": body}


def verify_app_home(ctx: IamContext, request: RequestInput) -> AppHomeVisit:
    """Verifies an app-home request; raises AppHomeRefused with the package's answer."""
    result = ctx.shopify_app.verify_app_home_req(request, app_home_patch_id_token_path=PATCH_ID_TOKEN_PATH)
    if not result.ok or result.shop is None or result.id_token is None:
        log.info("app_home_refused", code=result.log.code)
        raise AppHomeRefused(result.response, result.log.code)
    shop_domain = valid_shop_domain(f"{result.shop}.myshopify.com")
    if shop_domain is None:
        # Signed with our secret, yet not naming a Shopify store: nothing to act for.
        raise AppHomeRefused(Res(status=401, body="Unauthorized", headers={}), "invalid_dest")
    headers = {name.lower(): value for name, value in request["headers"].items()}
    return AppHomeVisit(
        shop_domain=shop_domain,
        user_id=None if result.user_id is None else str(result.user_id),
        document="authorization" not in headers,
        response_headers=dict(result.response.headers),
        id_token=result.id_token,
        invalid_token_response=result.invalid_token_response,
        request=request,
    )


async def _installed_row(shop_domain: str) -> dict[str, object] | None:
    row: dict[str, object] | None = (
        await Shop.select(Shop.uninstalled_at, Shop.installed_at, Shop.access_token)
        .where(Shop.domain == shop_domain)
        .first()
    )
    return row


def _has_token(row: dict[str, object] | None) -> bool:
    return row is not None and row["uninstalled_at"] is None and row["access_token"] is not None


async def _token_works(ctx: IamContext, shop_domain: str) -> bool:
    """Whether the stored token is one Shopify still accepts, as far as we can know without
    calling Shopify: refreshed first if due (a refresh token Shopify refuses, or one expired by
    its date, deletes the pair). Shopify being unreachable is no reason to replace it."""
    try:
        await shop_access_token(ctx, shop_domain)
    except ShopNotConnected:
        return False
    except ExternalServiceError:
        return True  # the page's own calls will say Shopify is unreachable
    return True


async def ensure_connected(ctx: IamContext, visit: AppHomeVisit) -> bool:
    """The shop's offline token, exchanged from the ID token when we hold none that works (a
    shop installed the Shopify-managed way, installed again after an uninstall, or whose stored
    token Shopify no longer accepts: refresh token expired or revoked); True when it was.

    A new shop (or one installed again) is installed as an install does, in the same
    transaction (iam.install.save_connected_shop): tokens stored encrypted, the on_installed
    hooks, the CRM and page-service sign-ups. An installed shop whose token was refused only
    gets the new pair. One exchange per shop at a time across processes (shop_token_lock): two
    first loads at once make one exchange and one install.
    """
    shop_domain = visit.shop_domain
    if _has_token(await _installed_row(shop_domain)) and await _token_works(ctx, shop_domain):
        return False
    async with shop_token_lock(ctx, shop_domain):
        row = await _installed_row(shop_domain)
        if _has_token(row):
            return False  # another request (or process) exchanged it meanwhile
        result = await ctx.shopify_app.exchange_using_token_exchange_async(
            access_mode="offline",
            id_token=visit.id_token,
            invalid_token_response=visit.invalid_token_response,
            http_client=ctx.shopify.http,
        )
        if not result.ok or result.access_token is None:
            code = result.log.code
            log.warning("token_exchange_failed", shop=shop_domain, code=code)
            if code == "invalid_subject_token":
                # The ID token went stale: the package's answer has the browser bring a fresh one.
                raise AppHomeRefused(result.response, code)
            if code == "invalid_client":
                raise ConnectionFailed(
                    "Shopify says FunnelSync is not installed on this store.",
                    "Install FunnelSync again from your Shopify admin (Apps), then open it from there.",
                    reinstall=True,
                )
            raise ConnectionFailed(
                "Shopify did not hand over access to your store just now.",
                "Shopify may be busy. Try again in a moment.",
            )
        grant = grant_of(result.access_token)
        missing = missing_scopes(grant.scopes)
        if missing:
            raise MissingScopes(missing)
        if row is not None and row["uninstalled_at"] is None and row["installed_at"] is not None:
            # Installed all along; only its tokens were refused: nothing to set up again.
            await Shop.update(
                {**token_columns(ctx, shop_domain, grant), Shop.connection: ShopConnection.OAUTH}
            ).where(Shop.domain == shop_domain)
            await resume_waiting_jobs(shop_domain)
            log.info("shop_token_replaced", shop=shop_domain, by="token_exchange")
            return True
        await save_connected_shop(ctx, shop_domain, grant, connection=ShopConnection.OAUTH)
        log.info("shop_installed", shop=shop_domain, by="token_exchange")
        return True


def for_here(response: Res, app_bridge_url: str, admin_origin: str) -> Res:
    """The package's response as it made it, except where development and tests run Shopify's
    stand-in: its App Bridge script and its admin origin replace Shopify's (production, with the
    default settings, is returned untouched)."""
    if app_bridge_url == SHOPIFY_APP_BRIDGE_URL and admin_origin == SHOPIFY_ADMIN_ORIGIN:
        return response
    headers = dict(response.headers)
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "content-security-policy":
            headers[name] = value.replace(SHOPIFY_ADMIN_ORIGIN, admin_origin)
        elif lowered == "link":
            headers[name] = f'<{app_bridge_url}>; rel="preload"; as="script"'
    return Res(
        status=response.status,
        body=response.body.replace(SHOPIFY_APP_BRIDGE_URL, app_bridge_url),
        headers=headers,
    )
