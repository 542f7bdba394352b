"""The real server and sandboxes on free loopback ports, driven through Debian's Chromium."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.e2e.support import CHROMIUM, CHROMIUM_FLAGS, LiveStack, Screenshots, running_live_stack
from tests.support.environment import require
from tests.support.processes import (
    free_port,
    free_port_run,
    start_process,
    stop_process,
    wait_until_healthy,
)


# Module scope: each test file drives a stack of its own, so no journey finds what another file's
# left behind (a live funnel taking the free plan's one, a plan, an admin): any subset of the
# files passes in any order. The tests of one file share it and use a shop each where it matters.
@pytest.fixture(scope="module")
def live_stack(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with running_live_stack(sqlite_template, tmp_path_factory.mktemp("live")) as stack:
        yield stack


@pytest.fixture(scope="module")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """`make run` as a merchant would start it: `python -m onboarding dev` (migrations on a new
    database, the sandboxes with their seeded stores, the app with its worker), on free ports."""
    workdir = tmp_path_factory.mktemp("dev")
    # dev's sandboxes (Shopify, CRM, templates, Stripe, mail) and the mail sandbox's SMTP port.
    port, base = free_port(), free_port_run(6)
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": f"sqlite:///{workdir / 'dev.sqlite3'}",
        "APP_SIGNING_KEY_FILE": str(workdir / "key.pem"),
    }
    command = [sys.executable, "-m", "onboarding", "dev", "--port", str(port)]
    command += ["--sandbox-base-port", str(base), "--state-dir", str(workdir / "sandbox")]
    process, log_path, log_file = start_process(command, env, "dev.log")
    app_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{app_url}/healthz", process, log_path, seconds=120)  # migrations first
        yield LiveStack(
            env=env,
            app_url=app_url,
            shopify_url=f"http://127.0.0.1:{base}",
            crm_url=f"http://127.0.0.1:{base + 1}",
            templates_url=f"http://127.0.0.1:{base + 2}",
        )
    finally:
        stop_process(process, log_file)  # dev stops its sandboxes


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


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(request.node.name)
