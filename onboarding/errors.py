"""Friendly error pages for people, JSON for programs, and never a stack trace to either."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Template
from litestar.types import ExceptionHandlersMap

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


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    if "text/html" in accept:
        return False
    return "json" in accept or request.url.path.startswith(("/webhooks/", "/api/"))


def error_body(status_code: int, request_id: str | None) -> dict[str, Any]:
    """The JSON error programs get, also from routes served outside Litestar (webhooks)."""
    title = _MESSAGES.get(status_code, (HTTPStatus(status_code).phrase, ""))[0]
    return {"error": {"status": status_code, "title": title, "request_id": request_id}}


def error_response(request: Request[Any, Any, Any], status_code: int) -> Response[Any]:
    title, advice = _MESSAGES.get(status_code, (HTTPStatus(status_code).phrase, ""))
    request_id = current_request_id(request.scope)
    if _wants_json(request):
        return Response(
            error_body(status_code, request_id), status_code=status_code, media_type=MediaType.JSON
        )
    return Template(
        template_name="errors/error.html",
        context={
            "status_code": status_code,
            "title": title,
            "advice": advice,
            "request_id": request_id,
        },
        status_code=status_code,
    )


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status_code = exc.status_code
    if status_code >= 500:
        log.error("http_error", status=status_code, detail=exc.detail)
    response = error_response(request, status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def handle_unexpected_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled_exception", exc_type=type(exc).__name__)
    return error_response(request, 500)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    HTTPException: handle_http_exception,
    Exception: handle_unexpected_exception,
}
