"""Real processes on free loopback ports: start one with its log, wait until it answers, stop it."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import IO

import httpx

from tests.support.environment import LOGS_DIR, PROJECT_DIR

START_DEADLINE_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_run(count: int) -> int:
    """The first of `count` consecutive free loopback ports (`dev` puts its sandboxes on a run)."""
    for _ in range(50):
        base = free_port()
        sockets = [socket.socket() for _ in range(count)]
        try:
            for offset, sock in enumerate(sockets):
                sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base
    raise RuntimeError("no run of free ports")


def wait_until_healthy(
    url: str, process: subprocess.Popen[bytes], log_path: Path, seconds: float = START_DEADLINE_SECONDS
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling a child process's port with a deadline, not waiting blind
    raise RuntimeError(f"{url} did not answer within {seconds}s:\n{log_path.read_text()}")


def stop_process(process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    """Asks a process to stop, kills it if it has not within 10 s, and closes its log."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    log.close()


def start_process(
    command: list[str], env: dict[str, str], log_name: str
) -> tuple[subprocess.Popen[bytes], Path, IO[bytes]]:
    """Starts `command` in the project directory, its output in test-artifacts/logs/`log_name`."""
    LOGS_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOGS_DIR / log_name
    log_file = log_path.open("wb")
    process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    return process, log_path, log_file
