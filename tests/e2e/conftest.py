"""The real server and sandboxes on free loopback ports, driven through Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.e2e.support import CHROMIUM, CHROMIUM_FLAGS, LiveStack, Screenshots, running_live_stack
from tests.support.environment import require


# Module scope: each test file drives a stack of its own, so no journey finds what another file's
# left behind (a live funnel taking the free plan's one, a plan, an admin): any subset of the
# files passes in any order. The tests of one file share it and use a shop each where it matters.
@pytest.fixture(scope="module")
def live_stack(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with running_live_stack(sqlite_template, tmp_path_factory.mktemp("live")) as stack:
        yield stack


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
