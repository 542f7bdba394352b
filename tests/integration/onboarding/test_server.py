"""The server's bounds on request heads (onboarding/server.py), over real sockets against
`python -m onboarding serve` in a process of its own: an oversized head gets 431, a head trickled
byte by byte is cut off with 408, a normal request is served."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import free_port, start_process, stop_process, wait_until_healthy

MAX_HEAD_BYTES = 8192
HEAD_TIMEOUT_SECONDS = 1
# How long a test lets the server take before calling a bound missing; far above the bound.
GIVE_UP_SECONDS = 30.0


@dataclass(frozen=True)
class Server:
    port: int

    def connect(self) -> socket.socket:
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=GIVE_UP_SECONDS)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home: Path = tmp_path_factory.mktemp("server")
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite:///{home / 'app.sqlite3'}",
        "APP_SIGNING_KEY_FILE": str(home / "key.pem"),
        "SECRET_KEY": "server-test-secret-key-with-enough-length-0123",
        "RUN_WORKER": "false",
        "REQUEST_HEAD_MAX_BYTES": str(MAX_HEAD_BYTES),
        "REQUEST_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT_SECONDS),
    }
    process, log_path, log_file = start_process(
        [sys.executable, "-m", "onboarding", "serve", "--port", str(port)], env, "server-bounds.log"
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/healthz", process, log_path)
        yield Server(port)
    finally:
        stop_process(process, log_file)


def request_head(extra_header_bytes: int = 0) -> bytes:
    filler = f"X-Filler: {'a' * extra_header_bytes}\r\n" if extra_header_bytes else ""
    return f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{filler}\r\n".encode()


def read_response(connection: socket.socket) -> tuple[bytes, bytes]:
    """The status line and body of one response (the server sends Content-Length)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        assert chunk, f"connection closed before a whole response head: {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = connection.recv(65536)
        assert chunk, "connection closed inside a response body"
        body += chunk
    return lines[0], body[:length]


def closed_by_server(connection: socket.socket) -> bool:
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True


def test_a_normal_request_is_served_and_the_connection_kept(server: Server) -> None:
    with server.connect() as connection:
        for _ in range(2):  # keep-alive: the bound of the second head starts with its first byte
            connection.sendall(request_head(extra_header_bytes=MAX_HEAD_BYTES // 2))
            status, body = read_response(connection)
            assert status == b"HTTP/1.1 200 OK"
            assert b"ok" in body


def test_a_head_over_the_limit_gets_431_and_the_connection_closes(server: Server) -> None:
    with server.connect() as connection:
        connection.sendall(request_head(extra_header_bytes=2 * MAX_HEAD_BYTES))
        status, body = read_response(connection)
        assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
        assert body == b"Request Header Fields Too Large"
        assert closed_by_server(connection)


def test_a_head_still_arriving_past_the_limit_gets_431_before_it_ends(server: Server) -> None:
    with server.connect() as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: ")
        # Just past the limit with the last piece, then nothing more: the head never ends.
        for _ in range(MAX_HEAD_BYTES // 1024):
            connection.sendall(b"a" * 1024)
        status, _ = read_response(connection)
        assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
        assert closed_by_server(connection)


def test_an_8_mb_header_is_never_served(server: Server) -> None:
    """The server stops reading after the limit: the client learns 431 or, when the close
    overtakes its unsent megabytes, a reset; never the page."""
    answer = b""
    with server.connect() as connection:
        try:
            connection.sendall(request_head(extra_header_bytes=8 * 1024 * 1024))
            while chunk := connection.recv(65536):
                answer += chunk
        except (BrokenPipeError, ConnectionResetError):
            pass
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")
    with server.connect() as connection:  # and the server goes on serving
        connection.sendall(request_head())
        assert read_response(connection)[0] == b"HTTP/1.1 200 OK"


@pytest.mark.parametrize("after_a_request", [False, True], ids=["first-request", "kept-alive"])
def test_a_head_sent_byte_by_byte_is_cut_off_with_408(server: Server, after_a_request: bool) -> None:
    with server.connect() as connection:
        if after_a_request:
            connection.sendall(request_head())
            assert read_response(connection)[0] == b"HTTP/1.1 200 OK"
        slow_head = request_head(extra_header_bytes=MAX_HEAD_BYTES // 2)
        connection.setblocking(False)
        answer = b""
        give_up = time.monotonic() + GIVE_UP_SECONDS
        for byte in slow_head:
            assert time.monotonic() < give_up, f"a head trickled for {GIVE_UP_SECONDS}s was still read"
            connection.send(bytes([byte]))
            time.sleep(0.05)  # the slow client's pace, which is what this test is about
            try:
                answer = connection.recv(65536)
            except BlockingIOError:
                continue
            break
        connection.setblocking(True)
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
        assert b"connection: close" in answer.lower()
        assert closed_by_server(connection)


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(server: Server) -> None:
    with server.connect() as connection:
        assert connection.recv(65536) == b""  # closed after the head time, with no answer
