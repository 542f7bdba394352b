"""The real server and sandboxes on free loopback ports, driven through Debian's Chromium."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.conftest import ARTIFACTS_DIR, PROJECT_DIR, require

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
SCREENSHOTS_DIR = ARTIFACTS_DIR / "screenshots"
LOGS_DIR = ARTIFACTS_DIR / "logs"
START_DEADLINE_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling a child process's port with a deadline, not waiting blind
    raise RuntimeError(f"{url} did not answer within {START_DEADLINE_SECONDS}s:\n{log_path.read_text()}")


@dataclass(frozen=True)
class LiveStack:
    env: dict[str, str]
    app_url: str
    shopify_url: str
    crm_url: str
    templates_url: str


def stop_process(process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    """Asks a process to stop, kills it if it has not within 10 s, and closes its log."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    log.close()


def _start(
    command: list[str], env: dict[str, str], log_name: str
) -> tuple[subprocess.Popen[bytes], Path, IO[bytes]]:
    LOGS_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOGS_DIR / log_name
    log_file = log_path.open("wb")
    process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    return process, log_path, log_file


@pytest.fixture(scope="session")
def live_stack(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    workdir = tmp_path_factory.mktemp("live")
    database = workdir / "app.sqlite3"
    shutil.copyfile(sqlite_template, database)
    ports = {name: free_port() for name in ("app", "shopify", "crm", "templates")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    app_url, shopify_url = urls["app"], urls["shopify"]
    env = {
        **os.environ,
        "APP_ENV": "test",
        "APP_BASE_URL": app_url,
        "DATABASE_URL": f"sqlite:///{database}",
        "SHOPIFY_SHOP_BASE_URL": f"{shopify_url}/shops/{{shop}}",
        "SHOPIFY_SANDBOX_URL": f"{shopify_url}/",
        "CRM_BASE_URL": urls["crm"],
        "TEMPLATES_BASE_URL": urls["templates"],
        "SECRET_KEY": "e2e-secret-key-with-enough-length-0123456789",
    }
    started = []
    try:
        sandbox_args = [
            arg for name in ("shopify", "crm", "templates") for arg in (f"--{name}", str(ports[name]))
        ]
        sandbox = _start(
            [sys.executable, "-m", "sandbox.launcher", *sandbox_args, "--app-url", app_url],
            env,
            "sandboxes.log",
        )
        started.append(sandbox)
        app = _start(
            [sys.executable, "-m", "onboarding", "serve", "--port", str(ports["app"])], env, "app.log"
        )
        started.append(app)
        for name in ("shopify", "crm", "templates"):
            wait_until_healthy(f"{urls[name]}/healthz", sandbox[0], sandbox[1])
        wait_until_healthy(f"{app_url}/healthz", app[0], app[1])
        yield LiveStack(
            env=env,
            app_url=app_url,
            shopify_url=shopify_url,
            crm_url=urls["crm"],
            templates_url=urls["templates"],
        )
    finally:
        for process, _, log_file in started:
            stop_process(process, log_file)


# Package scope (tests/e2e), not session: Playwright's sync API runs an event loop on this thread while
# it is open, and the async tests collected after tests/e2e (pytest-asyncio's loops,
# asyncio.run in helpers) cannot start theirs until it is closed.
@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium)"
        if require("REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    browser = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
    )
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


class Screenshots:
    def __init__(self, test_name: str) -> None:
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name)

    def take(self, page: Page, label: str) -> Path:
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS_DIR / f"{self.prefix}--{label}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(request.node.name)
