"""Friendly error pages for people, JSON for programs, and never a stack trace to either.

Domain exceptions are turned into answers here, once, for every controller: a funnel that is
not the merchant's is a 404, an account still being set up says so with the way to its
progress, and an external system that fails is a 502/503 naming it. htmx requests get a short
partial instead of a whole page; base.html's responseHandling leaves error answers unswapped,
so a boosted navigation (a whole page) is sent to the address itself with HX-Redirect and the
browser shows the full page there, and "account not ready" sends any htmx request to /setup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Template
from litestar.types import ExceptionHandlersMap

from connectors.errors import ExternalServiceError, RateLimited, Rejected, Unauthorized
from funnels.services import FunnelNotFound
from iam.app_home import APP_HOME_STATE_KEY, AppHomeRefused, AppHomeVisit, ConnectionFailed
from iam.controllers import package_response
from iam.errors import AccountNotReady
from iam.install import InstallRefused, MissingScopes
from iam.tokens import ShopNotConnected
from onboarding.observability import current_request_id

log = structlog.get_logger("funnelsync.errors")

_MESSAGES: dict[int, tuple[str, str]] = {
    400: ("We could not read that request", "Go back, check what you entered and try again."),
    401: ("Please sign in", "Open the app again from your Shopify admin to sign in."),
    403: (
        "That action was refused",
        "The page may have been open too long. Go back, reload the page and try again.",
    ),
    404: (
        "Page not found",
        "The address may be mistyped, or the page has moved. Check it or start from the home page.",
    ),
    405: (
        "That is not how this page works",
        "This address does not accept that kind of request. Start again from the home page.",
    ),
    429: ("Too many attempts", "Wait a minute, then try again."),
    500: (
        "Something went wrong on our side",
        "Nothing you did caused this. Try again in a moment; if it keeps happening, contact "
        "support and quote the reference below.",
    ),
    503: ("We are briefly unavailable", "Try again in a minute."),
}

# Domain exceptions that mean "no such thing for this merchant": all answered as a 404.
NOT_FOUND: tuple[type[Exception], ...] = (FunnelNotFound,)
SETUP_PAGE = "/setup"
# How pages name the systems: accounts by AccountNotReady.system, failures by ExternalServiceError.system.
_ACCOUNT_NAMES = {"crm": "CRM", "templates": "page builder"}
_SYSTEM_NAMES = {"CRM": "The CRM", "Page builder": "The page builder"}


@dataclass(frozen=True)
class Link:
    href: str
    text: str


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    if "text/html" in accept:
        return False
    return "json" in accept or request.url.path.startswith(("/webhooks/", "/api/"))


def _is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def _is_boosted_get(request: Request[Any, Any, Any]) -> bool:
    return request.method == "GET" and request.headers.get("hx-boosted") == "true"


def _own_address(request: Request[Any, Any, Any]) -> str:
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def error_body(status_code: int, request_id: str | None, title: str | None = None) -> dict[str, Any]:
    """The JSON error programs get, also from routes served outside Litestar (webhooks)."""
    title = title or _MESSAGES.get(status_code, (HTTPStatus(status_code).phrase, ""))[0]
    return {"error": {"status": status_code, "title": title, "request_id": request_id}}


def error_response(
    request: Request[Any, Any, Any],
    status_code: int,
    *,
    title: str | None = None,
    advice: str | None = None,
    link: Link | None = None,
    htmx_redirect: str | None = None,
) -> Response[Any]:
    """The error page (or its partial, or JSON); `title`/`advice` replace the status's own words
    and `htmx_redirect` is where an htmx request is sent instead of the boosted page's own address."""
    default_title, default_advice = _MESSAGES.get(status_code, (HTTPStatus(status_code).phrase, ""))
    title = title or default_title
    advice = advice if advice is not None else default_advice
    request_id = current_request_id(request.scope)
    if _wants_json(request):
        return Response(
            error_body(status_code, request_id, title), status_code=status_code, media_type=MediaType.JSON
        )
    context = {
        "status_code": status_code,
        "title": title,
        "advice": advice,
        "link": link,
        "request_id": request_id,
    }
    if not _is_htmx(request):
        return Template(template_name="errors/error.html", context=context, status_code=status_code)
    headers: dict[str, str] = {}
    if htmx_redirect is not None:
        headers["HX-Redirect"] = htmx_redirect
    elif _is_boosted_get(request):
        headers["HX-Redirect"] = _own_address(request)  # loaded whole, the address shows the full page
    return Template(
        template_name="errors/_notice.html", context=context, status_code=status_code, headers=headers
    )


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status_code = exc.status_code
    if status_code >= 500:
        log.error("http_error", status=status_code, detail=exc.detail)
    response = error_response(request, status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def handle_not_found(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return error_response(request, 404)


def handle_account_not_ready(request: Request[Any, Any, Any], exc: AccountNotReady) -> Response[Any]:
    log.info("account_not_ready", system=exc.system)
    name = _ACCOUNT_NAMES.get(exc.system, exc.system)
    return error_response(
        request,
        503,
        title=f"Your {name} account is still being set up",
        advice="We are creating it for your store in the background; it usually takes a minute. "
        "Follow its progress on the setup page, then try again.",
        link=Link(SETUP_PAGE, "See the setup progress"),
        htmx_redirect=SETUP_PAGE,
    )


def handle_shop_not_connected(request: Request[Any, Any, Any], exc: ShopNotConnected) -> Response[Any]:
    """Outside the admin: connect again. Inside it, when Shopify just refused the stored token for
    good (it is deleted by now), the package's answer that brings a fresh ID token: the page
    loads again, or App Bridge's retry reloads it, and that request's token exchange gets a
    new token (iam.app_home.ensure_connected), as Shopify recovers on its managed path."""
    visit = request.scope.get("state", {}).get(APP_HOME_STATE_KEY)
    if exc.access_lost and isinstance(visit, AppHomeVisit) and visit.invalid_token_response is not None:
        log.info("shop_not_connected", recovery="token_exchange")
        return package_response(request.app.state.iam, visit.invalid_token_response)
    log.info("shop_not_connected")
    return error_response(
        request,
        401,
        title="Your store needs to be connected again",
        advice="FunnelSync can no longer reach your store. Open the app again from your Shopify admin "
        "to reconnect it.",
    )


def handle_external_failure(request: Request[Any, Any, Any], exc: ExternalServiceError) -> Response[Any]:
    """An external system's failure no controller handled: 503 to try again, 502 when it refused."""
    log.warning(
        "external_service_failed",
        system=exc.system,
        error=type(exc).__name__,
        upstream_status=exc.status_code,
    )
    name = _SYSTEM_NAMES.get(exc.system, exc.system)
    if isinstance(exc, Rejected | Unauthorized):
        return error_response(
            request,
            502,
            title=f"{name} refused our request",
            advice="Nothing you did caused this. Try again in a moment; if it keeps happening, contact "
            "support and quote the reference below.",
        )
    response = error_response(
        request,
        503,
        title=f"{name} did not answer",
        advice="Try again in a minute.",
    )
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_seconds)))
    return response


def handle_app_home_refused(request: Request[Any, Any, Any], exc: AppHomeRefused) -> Response[Any]:
    """Shopify's package refused the request or asked for a fresh ID token: its answer, as made."""
    return package_response(request.app.state.iam, exc.response)


def _without_id_token(request: Request[Any, Any, Any]) -> str:
    # A retry loads the page again; inside the admin App Bridge brings a fresh ID token for it.
    query = urlencode(
        [(key, value) for key, value in request.query_params.multi_items() if key != "id_token"]
    )
    return f"{request.url.path}?{query}" if query else request.url.path


def handle_connection_failed(request: Request[Any, Any, Any], exc: ConnectionFailed) -> Response[Any]:
    """The token exchange of a shop's first load failed: what happened, and a retry (or, when
    Shopify says the app is not installed, where to install it again)."""
    if exc.reinstall:
        return error_response(request, 403, title=str(exc), advice=exc.hint)
    return error_response(
        request,
        502,
        title=str(exc),
        advice=exc.hint + " Nothing was saved.",
        link=Link(_without_id_token(request), "Try again"),
    )


def handle_install_refused(request: Request[Any, Any, Any], exc: InstallRefused) -> Response[Any]:
    advice = exc.hint
    if isinstance(exc, MissingScopes):
        advice = f"FunnelSync needs these permissions too: {', '.join(exc.missing)}. {exc.hint}"
    return error_response(request, 403, title=str(exc), advice=advice)


def handle_unexpected_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled_exception", exc_type=type(exc).__name__)
    return error_response(request, 500)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    HTTPException: handle_http_exception,
    **dict.fromkeys(NOT_FOUND, handle_not_found),
    AccountNotReady: handle_account_not_ready,
    AppHomeRefused: handle_app_home_refused,
    ConnectionFailed: handle_connection_failed,
    InstallRefused: handle_install_refused,
    ShopNotConnected: handle_shop_not_connected,
    ExternalServiceError: handle_external_failure,
    Exception: handle_unexpected_exception,
}
