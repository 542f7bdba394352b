"""Install, account setup, custom-app connection, CRM sign-in, merchant sign-out and the app's public
keys."""

from __future__ import annotations

import secrets
import time
from typing import Any, Literal

import structlog
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template
from shopify_app import Res

from connectors.errors import ExternalServiceError, Rejected, Unauthorized
from connectors.shopify_auth import valid_shop_domain, verify_query
from iam.app_home import (
    APP_HOME_STATE_KEY,
    PATCH_ID_TOKEN_PATH,
    AppHomeVisit,
    ensure_connected,
    for_here,
    is_app_home_request,
    package_request,
    verify_app_home,
)
from iam.clients import ShopClients
from iam.context import IamContext
from iam.deep_link import crm_login_url
from iam.install import (
    START_AGAIN,
    InstallRefused,
    MissingScopes,
    begin_install,
    complete_install,
    connect_with_access_token,
    consume_state,
)
from iam.provisioning import retry_failed_setup, setup_progress
from iam.sessions import SESSION_SHOP_KEY, rotate_session_id
from iam.signing import jwks
from iam.tables import AccountStatus, Shop
from iam.tokens import ShopNotConnected, shop_access_token

log = structlog.get_logger("funnelsync.install")

INSTALL_COOKIE = "funnelsync_install"
SUPPORTED_API_VERSIONS = ("2026-10", "2026-07", "2026-04", "2026-01")
AnyRequest = Request[Any, Any, State]
Iam = NamedDependency[IamContext]
Clients = NamedDependency[ShopClients]
ShopDomain = NamedDependency[str]
TOKEN_FIELD = "access_token"  # noqa: S105 - the connect form's field name


def _install_refused(
    message: str, hint: str, status_code: int = 400, missing: list[str] | None = None
) -> Template:
    return Template(
        template_name="install/refused.html",
        context={"message": message, "hint": hint, "missing": missing or []},
        status_code=status_code,
    )


def package_response(iam: IamContext, response: Res) -> Response[str]:
    """A response Shopify's package made, returned as it made it (see iam.app_home.for_here)."""
    made = for_here(response, iam.app_bridge_url, iam.admin_origin)
    return Response(
        content=made.body, status_code=made.status, headers=made.headers, media_type=MediaType.HTML
    )


def redirect_out(
    request: AnyRequest,
    iam: IamContext,
    url: str,
    *,
    status_code: Literal[302, 303] = 303,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    """A redirect to another site (Shopify's charge confirmation, the CRM, Stripe). Inside the
    admin's iframe it must leave the iframe: the package's parent redirect does that."""
    visit = request.scope.get("state", {}).get(APP_HOME_STATE_KEY)
    if isinstance(visit, AppHomeVisit) and url.startswith(("https://", "http://")):
        result = iam.shopify_app.app_home_parent_redirect(
            visit.request, redirect_url=url, shop=visit.shop_name
        )
        return package_response(iam, result.response)
    return Redirect(url, status_code=status_code, headers=headers)


def app_address(request: AnyRequest, iam: IamContext) -> str:
    """Where this merchant reaches the app, for URLs another site sends them back to (billing
    return URLs). Inside the admin's iframe that is the app's page in the admin: Shopify opens
    the path after it in the iframe with a fresh ID token, as the iframe has no cookie to come
    back with. Standalone it is the app's own address (the session cookie comes back)."""
    visit = request.scope.get("state", {}).get(APP_HOME_STATE_KEY)
    if isinstance(visit, AppHomeVisit):
        return iam.admin_app_url(visit.shop_domain)
    return iam.app_base_url


async def app_home_visit(request: AnyRequest, iam: IamContext) -> AppHomeVisit:
    """Verifies a request from inside the admin's iframe by its ID token (Shopify's package)."""
    query = request.scope["query_string"].decode("latin-1")
    # The URL the browser asked for, on the app's public address (a proxy may hide the scheme).
    url = f"{iam.app_base_url}{request.url.path}" + (f"?{query}" if query else "")
    body = (await request.body()).decode("utf-8", "replace")
    visit = verify_app_home(iam, package_request(request.method, request.headers, url, body))
    request.scope.setdefault("state", {})[APP_HOME_STATE_KEY] = visit
    return visit


async def current_shop(request: AnyRequest, iam: Iam) -> str:
    """The merchant's shop; every merchant query is scoped by it.

    Inside the Shopify admin it is the shop the request's ID token names (verified by Shopify's
    package; a shop without a token yet is installed by token exchange first). Outside it
    (standalone: custom distribution, the custom-app token connection) it is the session's.
    """
    if is_app_home_request(request.headers, request.query_params):
        visit = await app_home_visit(request, iam)
        await ensure_connected(iam, visit)
        return visit.shop_domain
    shop_domain = request.session.get(SESSION_SHOP_KEY) if request.session else None
    if not isinstance(shop_domain, str):
        raise NotAuthorizedException("no merchant session")
    row = (
        await Shop.select(Shop.uninstalled_at, Shop.access_token, Shop.access_lost_at)
        .where(Shop.domain == shop_domain)
        .first()
    )
    # A shop whose Shopify access was lost stays signed in: its pages show what it has and say
    # to reconnect (sync health); what needs Shopify says "connect again".
    if (
        row is None
        or row["uninstalled_at"] is not None
        or (row["access_token"] is None and row["access_lost_at"] is None)
    ):
        request.clear_session()
        raise NotAuthorizedException("shop not installed")
    return shop_domain


async def has_working_token(iam: IamContext, shop_domain: str) -> bool:
    """Whether the shop is installed with a token that works (refreshed first if due)."""
    try:
        await shop_access_token(iam, shop_domain)
    except (ShopNotConnected, ExternalServiceError):
        return False
    return True


def start_merchant_session(request: AnyRequest, shop_domain: str) -> None:
    rotate_session_id(request.scope)
    request.clear_session()
    request.set_session({SESSION_SHOP_KEY: shop_domain})


class ShopifyInstallController(Controller):
    path = "/shopify"

    @get("/install")
    async def install(self, request: AnyRequest, iam: Iam) -> Redirect | Template:
        params = dict(request.query_params)
        shop_domain = valid_shop_domain(params.get("shop"))
        if shop_domain is None:
            return _install_refused(
                "That is not a Shopify store address.",
                "Install FunnelSync from your Shopify admin, or use your store's .myshopify.com address.",
            )
        problem = verify_query(params, iam.shopify_secrets, time.time())
        if problem:
            log.warning("install_refused", reason=problem)
            return _install_refused(f"We could not verify this install request: {problem}.", START_AGAIN)
        if await has_working_token(iam, shop_domain):
            # Opened again from the admin (a signed request), already installed: sign the
            # merchant in, no consent screen and no setup again.
            start_merchant_session(request, shop_domain)
            log.info("merchant_signed_in", shop=shop_domain)
            return Redirect("/app/")
        browser_secret = secrets.token_urlsafe(32)
        authorize_url = await begin_install(iam, shop_domain, browser_secret)
        return Redirect(
            authorize_url,
            cookies=[
                Cookie(
                    key=INSTALL_COOKIE,
                    value=browser_secret,
                    path="/shopify",
                    max_age=600,
                    httponly=True,
                    samesite="lax",
                    secure=iam.app_base_url.startswith("https://"),
                )
            ],
        )

    @get("/callback")
    async def callback(self, request: AnyRequest, iam: Iam) -> Redirect | Template:
        params = dict(request.query_params)
        shop_domain = valid_shop_domain(params.get("shop"))
        if shop_domain is None:
            return _install_refused("That is not a Shopify store address.", START_AGAIN)
        problem = verify_query(params, iam.shopify_secrets, time.time())
        try:
            if problem:
                raise InstallRefused(f"We could not verify Shopify's answer: {problem}.")
            if not params.get("code"):
                raise InstallRefused("Shopify's answer did not include an authorization code.")
            await consume_state(params.get("state", ""), request.cookies.get(INSTALL_COOKIE), shop_domain)
            await complete_install(iam, shop_domain, params["code"])
        except MissingScopes as refused:
            return _install_refused(str(refused), refused.hint, status_code=403, missing=refused.missing)
        except InstallRefused as refused:
            log.warning("install_refused", reason=str(refused))
            return _install_refused(str(refused), refused.hint)
        start_merchant_session(request, shop_domain)
        log.info("shop_installed", shop=shop_domain)
        redirect = Redirect("/setup")
        redirect.delete_cookie(INSTALL_COOKIE, path="/shopify")
        return redirect


class ConnectController(Controller):
    """Connecting a store the way custom apps do (seeds/002): an Admin API access token."""

    path = "/connect"

    @get("/")
    async def form(self) -> Template:
        return self._page({}, {})

    def _page(self, values: dict[str, str], errors: dict[str, str], status_code: int = 200) -> Template:
        return Template(
            template_name="install/connect.html",
            context={"values": values, "errors": errors, "api_versions": SUPPORTED_API_VERSIONS},
            status_code=status_code,
        )

    @post("/", status_code=303)
    async def connect(
        self,
        request: AnyRequest,
        iam: Iam,
        data: URLEncodedBody[dict[str, str]],
    ) -> Redirect | Template:
        values = {key: str(data.get(key, "")).strip() for key in ("shop", "access_token", "api_version")}
        errors: dict[str, str] = {}
        shop_domain = valid_shop_domain(values["shop"])
        if not values["shop"]:
            errors["shop"] = "Enter your store's address, like your-store.myshopify.com"
        elif shop_domain is None:
            errors["shop"] = "Enter the address ending in .myshopify.com (Settings > Domains in your admin)"
        if not values["access_token"]:
            errors[TOKEN_FIELD] = "Enter the Admin API access token of your custom app"
        elif len(values["access_token"]) > 255:
            errors[TOKEN_FIELD] = "That is longer than an Admin API access token: copy it again"
        if values["api_version"] not in SUPPORTED_API_VERSIONS:
            errors["api_version"] = "Choose the API version shown under Webhook subscriptions in your app"
        if errors or shop_domain is None:
            return self._page({**values, "access_token": ""}, errors, status_code=400)
        try:
            await connect_with_access_token(iam, shop_domain, values["access_token"])
        except MissingScopes as refused:
            errors[TOKEN_FIELD] = "The token lacks these permissions: " + ", ".join(refused.missing)
        except (Unauthorized, Rejected):
            errors[TOKEN_FIELD] = "Shopify refused this token for that store. Check both and try again"
        except ExternalServiceError:
            errors["shop"] = "We could not reach that store right now. Try again in a minute"
        if errors:
            return self._page({**values, "access_token": ""}, errors, status_code=400)
        start_merchant_session(request, shop_domain)
        return Redirect("/setup", status_code=303)


async def _setup_template(template_name: str, shop_domain: str) -> Template:
    progress = await setup_progress(shop_domain)
    return Template(
        template_name=template_name,
        context={"progress": progress, "done": all(item.status == AccountStatus.READY for item in progress)},
    )


class AccountSetupController(Controller):
    path = "/setup"
    dependencies = {"shop_domain": current_shop}

    @get("/")
    async def progress_page(self, shop_domain: ShopDomain) -> Template:
        return await _setup_template("install/setup.html", shop_domain)

    @get("/progress")
    async def progress_fragment(self, shop_domain: ShopDomain) -> Template:
        """What htmx polls while the accounts are being set up."""
        return await _setup_template("install/_setup_progress.html", shop_domain)

    @post("/retry", status_code=303)
    async def retry(self, shop_domain: ShopDomain, state: State) -> Redirect:
        if await retry_failed_setup(shop_domain):
            state.worker.wake()
        return Redirect("/setup", status_code=303)


class CrmSignInController(Controller):
    path = "/crm"
    dependencies = {"shop_domain": current_shop}

    @post("/open", status_code=303)
    async def open_crm(
        self,
        request: AnyRequest,
        iam: Iam,
        shop_domain: ShopDomain,
        clients: Clients,
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        # Only a path inside the CRM: never an address elsewhere (no open redirect).
        wanted = str(data.get("redirect_path", ""))
        redirect_path = wanted if wanted.startswith("/") and not wanted.startswith("//") else None
        url = await crm_login_url(clients, shop_domain, redirect_path)
        # A 303 to a one-time URL: nothing caches it, and it never appears in our pages or logs.
        return redirect_out(request, iam, url, status_code=303, headers={"Cache-Control": "no-store"})


class SignOutController(Controller):
    @post("/sign-out", status_code=303)
    async def sign_out(self, request: AnyRequest) -> Redirect:
        """Ends the merchant's session: its row goes and the browser's cookie is cleared."""
        request.clear_session()
        return Redirect("/signed-out", status_code=303)

    @get("/signed-out", sync_to_thread=False)
    def signed_out(self) -> Template:
        return Template(template_name="signed_out.html")


class AppHomeTokenController(Controller):
    """The package's patch-ID-token page: App Bridge brings a fresh ID token to a page load that
    arrived without one (a link followed inside the iframe) and loads it again."""

    opt = {"skip_session": True}

    @get(PATCH_ID_TOKEN_PATH)
    async def patch_id_token(self, request: AnyRequest, iam: Iam) -> Response[str]:
        result = iam.shopify_app.app_home_patch_id_token(
            package_request(request.method, request.headers, str(request.url), "")
        )
        return package_response(iam, result.response)


class JwksController(Controller):
    opt = {"skip_session": True}

    @get("/.well-known/jwks.json", media_type=MediaType.JSON, sync_to_thread=False)
    def keys(self, state: State) -> dict[str, Any]:
        return jwks(state.signing_key)
