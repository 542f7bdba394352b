"""Structured JSON logs, one access line per request, and a request id on everything."""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def configure_logging(level: str, json_lines: bool) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer()
    )
    # Our own lines are rendered by structlog and written straight to stdout: going through
    # the standard library (a LogRecord, caller lookup, handler lock, a formatter copying the
    # event) cost about 2.5 times as much, on every request's access line. Not cached on
    # first use: each app factory call (tests make many) must get its own level and stdout.
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.WriteLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    # Other libraries' standard-library records end up in the same stream, rendered alike.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log repeats ours without the request id and with query strings,
    # which can carry one-time codes: silence it.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every outgoing URL at INFO; some carry tokens or codes.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def current_request_id(scope: Scope) -> str | None:
    value = scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


_REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.encode()


class RequestContext:
    """Gives each request an id (kept from X-Request-ID when sane) and logs its outcome.

    It wraps the whole app, outside routing, so 404s and 405s are covered too. Only the
    path is logged, never the query string: install and OAuth callbacks carry codes and
    signatures there.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Bound now, under the configuration create_app just made: the hot access line then
        # skips building a logger per call.
        self._log = structlog.get_logger("funnelsync.http").bind()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == _REQUEST_ID_HEADER_BYTES:
                incoming = value.decode("latin-1")
                break
        # fullmatch: "$" would let a trailing newline through into our response header.
        request_id = incoming if _ACCEPTABLE_REQUEST_ID.fullmatch(incoming) else secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        # The id is plain ASCII (checked above or hex), so it is a valid header value as is.
        request_id_header = (_REQUEST_ID_HEADER_BYTES, request_id.encode())
        started = time.perf_counter()
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *(
                        header
                        for header in message.get("headers", ())
                        if header[0] != _REQUEST_ID_HEADER_BYTES
                    ),
                    request_id_header,
                ]
            await send(message)

        context = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            try:
                self._log.info(
                    "request",
                    method=scope.get("method"),
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
            finally:
                structlog.contextvars.reset_contextvars(**context)
