"""The error payloads the CRM and template-service APIs answer with, and their handlers.

API errors are `{"error": "<code>", "message": "..."}` plus fields specific to the code
(`errors` for 422, `existing_id` for 409). OAuth token-endpoint errors follow RFC 6749
§5.2 instead and are produced in `sandbox.common.oauth`.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

logger = logging.getLogger("sandbox")

ERROR_HEADERS = {"Cache-Control": "no-store"}


class ApiError(Exception):
    """Raised anywhere in a handler; turned into exactly this response."""

    def __init__(
        self, status_code: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status_code} {body.get('error')}")
        self.status_code = status_code
        self.body = dict(body)
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


def validation_failed(errors: list[FieldError]) -> ApiError:
    return ApiError(
        422,
        {
            "error": "validation_failed",
            "message": "The request has invalid fields.",
            "errors": [e.as_json() for e in errors],
        },
    )


def not_found(message: str) -> ApiError:
    return ApiError(404, {"error": "not_found", "message": message})


def bad_request(message: str) -> ApiError:
    return ApiError(400, {"error": "bad_request", "message": message})


def forbidden(message: str) -> ApiError:
    return ApiError(403, {"error": "forbidden", "message": message})


def invalid_token(description: str, realm: str) -> ApiError:
    # RFC 6750 §3: the 401 names the scheme and the error in WWW-Authenticate too.
    challenge = (
        f'Bearer realm="{realm}", error="invalid_token", '
        f'error_description="{description.replace(chr(34), chr(39))}"'
    )
    return ApiError(
        401,
        {"error": "invalid_token", "error_description": description, "message": description},
        {"WWW-Authenticate": challenge},
    )


def insufficient_scope(scope: str, realm: str) -> ApiError:
    challenge = f'Bearer realm="{realm}", error="insufficient_scope", scope="{scope}"'
    message = f"The token lacks the scope {scope}."
    return ApiError(
        403,
        {"error": "insufficient_scope", "error_description": message, "message": message},
        {"WWW-Authenticate": challenge},
    )


def rate_limited(retry_after: int) -> ApiError:
    return ApiError(
        429,
        {
            "error": "rate_limited",
            "message": f"Too many requests. Retry after {retry_after} seconds.",
            "retry_after": retry_after,
        },
        {"Retry-After": str(retry_after)},
    )


def internal_error_body() -> dict[str, Any]:
    """What the real services answer on an unexpected failure: opaque, with a request id."""
    return {
        "error": "internal_server_error",
        "message": "An unexpected error occurred. Try again later.",
        "request_id": "req_" + secrets.token_hex(8),
    }


def api_error_handler(_request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return Response(
        content=exc.body,
        status_code=exc.status_code,
        headers={**ERROR_HEADERS, **exc.headers},
        media_type="application/json",
    )


def http_exception_handler(_request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own errors (unknown route, wrong method) in the API's error shape."""
    status = HTTPStatus(exc.status_code)
    code = status.phrase.lower().replace(" ", "_").replace("-", "_")
    return Response(
        content={"error": code, "message": exc.detail or status.phrase},
        status_code=exc.status_code,
        headers={**ERROR_HEADERS, **(exc.headers or {})},
        media_type="application/json",
    )


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Log the route template, not the URL: a login link's token must never reach a log.
    logger.exception("unhandled error in %s %s", request.method, request.scope.get("path_template"))
    return Response(
        content=internal_error_body(),
        status_code=500,
        headers=ERROR_HEADERS,
        media_type="application/json",
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    ApiError: api_error_handler,
    HTTPException: http_exception_handler,
    Exception: unexpected_error_handler,
}


async def json_object_body(request: Request[Any, Any, Any], *, optional: bool) -> dict[str, Any]:
    """The request's JSON object body; `{}` for an empty body when `optional`."""
    raw = await request.body()
    if not raw.strip():
        if optional:
            return {}
        raise validation_failed([FieldError("body", "A JSON object body is required.")])
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise bad_request("The body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise validation_failed([FieldError("body", "The body must be a JSON object.")])
    return data
