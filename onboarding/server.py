"""The HTTP server: uvicorn with httptools, its request heads bounded in size and in time.

uvicorn 0.54 bounds neither with httptools (llhttp buffers a header of any size; an 8 MB one was
served) and bounds no request head in time with any protocol: `timeout_keep_alive` only runs
between requests, so a client sending its head a byte at a time holds a connection for ever.
h11's `h11_max_incomplete_event_size` bounds the size (answering 400, not 431) but not the time,
and would swap the C parser for a pure-Python one on every request. An ASGI middleware cannot
help: the app is called only once the whole head has arrived. So the bounds live in the
protocol, where the parser's own callbacks say where a head begins and ends.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any, ClassVar

import uvicorn
from litestar import Litestar
from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from onboarding.settings import Settings


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with each request head (request line and headers) allowed at
    most `max_head_bytes` (431 beyond) and `head_timeout` seconds (408 when it has begun; a
    connection that sent nothing by then is just closed, as idle keep-alive ones are).

    The time runs from the connection for its first request and from a request's first byte for
    the next ones (between requests `timeout_keep_alive` applies). A head still arriving is
    measured per read (refused once past the limit, so memory stays bounded by about one read);
    a complete one by what the parser read, before the app sees it.
    """

    max_head_bytes: ClassVar[int] = 32 * 1024
    head_timeout: ClassVar[float] = 20.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = False
        self._head_bytes = 0
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.max_head_bytes:
            self.logger.warning("Request head over %d bytes refused.", self.max_head_bytes)
            self._refuse(431, "Request Header Fields Too Large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        if self._head_deadline is None:
            self._start_head_deadline()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_deadline()
        # A head that arrived within one read is measured here, from what the parser read.
        head_bytes = len(self.url) + 16 + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if head_bytes <= self.max_head_bytes:
            super().on_headers_complete()
            return
        self.logger.warning("Request head over %d bytes refused.", self.max_head_bytes)
        # uvicorn's own cycle answers (and closes, on `connection: close`), so the parser goes on
        # reading this request's body into a request the app never sees.
        app, self.app = self.app, head_too_large
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def _start_head_deadline(self) -> None:
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_deadline_passed)

    def _stop_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_deadline_passed(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        responding = self.cycle is not None and not self.cycle.response_complete
        if self._in_head and not responding:
            self.logger.warning("Request head not received within %ss: connection closed.", self.head_timeout)
            self._refuse(408, "Request Timeout")
        else:
            self.transport.close()

    def _refuse(self, status: int, reason: str) -> None:
        """Answers `status` and closes the connection: the rest of this head is never read."""
        self._in_head = False
        self._stop_head_deadline()
        body = reason.encode("ascii")
        head = [f"HTTP/1.1 {status} {reason}".encode("ascii")]
        head += [name + b": " + value for name, value in self.server_state.default_headers]
        head += [
            b"content-type: text/plain; charset=utf-8",
            b"content-length: " + str(len(body)).encode("ascii"),
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()


async def head_too_large(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    body = b"Request Header Fields Too Large"
    await send(
        {
            "type": "http.response.start",
            "status": 431,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def bounded_head_protocol(settings: Settings) -> type[BoundedHeadProtocol]:
    """The protocol class uvicorn instantiates per connection, with the settings' bounds."""
    return type(
        "SettingsBoundedHeadProtocol",
        (BoundedHeadProtocol,),
        {
            "max_head_bytes": settings.request_head_max_bytes,
            "head_timeout": settings.request_head_timeout_seconds,
        },
    )


def serve_app(
    app: Litestar, settings: Settings, host: str, port: int, on_started: Callable[[], None] | None = None
) -> None:
    """Serves `app` until SIGINT/SIGTERM; `on_started` runs once it accepts connections."""
    config = uvicorn.Config(
        app, host=host, port=port, http=bounded_head_protocol(settings), log_config=None, proxy_headers=True
    )
    _Server(config, on_started).run()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_started is not None:
            self._on_started()
