"""The store admin and the App Bridge stand-in in Chromium, with an embedded app whose every
request Shopify's official package verifies (sandbox/tests/.../shopify_embedded_app_support.py).

The admin and the app are two sites (`localhost` and `127.0.0.1`), as admin.shopify.com and
the app are.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, FrameLocator, Page, async_playwright, expect

from sandbox.tests.integration.shopify.shopify_embedded_app_support import EmbeddedTestApp
from sandbox.tests.integration.shopify.shopify_embedded_support import (
    CLIENT_ID,
    SECRET,
    free_socket,
    serve,
    served_shopify,
)

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_FOUND = CHROMIUM.exists()
# The flags every browser test of the project uses (Debian's Chromium, nothing downloaded).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Stack:
    sandbox_url: str
    app: EmbeddedTestApp
    page: Page


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM_FOUND:
        message = f"Chromium not found at {CHROMIUM}"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        await launched.close()


@pytest.fixture
async def stack(browser: Browser) -> AsyncIterator[Stack]:
    app_socket = free_socket()
    app_url = f"http://127.0.0.1:{app_socket.getsockname()[1]}"
    # The admin on `localhost`, the app on `127.0.0.1`: two sites, as admin.shopify.com and
    # the app are, so the app's cookies are third-party cookies in the iframe here too.
    async with served_shopify(host_name="localhost", app_url=app_url) as shopify:
        embedded = EmbeddedTestApp(client_id=CLIENT_ID, client_secret=SECRET, sandbox_url=shopify.url)
        async with serve(embedded.app(), app_socket):
            context = await browser.new_context(viewport={"width": 1100, "height": 900})
            context.set_default_timeout(10_000)
            try:
                yield Stack(shopify.url, embedded, await context.new_page())
            finally:
                await context.close()


async def install_and_open(stack: Stack) -> FrameLocator:
    page = stack.page
    await page.goto(f"{stack.sandbox_url}/admin/store/demo-store/app-store/funnelsync")
    await page.get_by_role("button", name="Install").click()
    await expect(page).to_have_url(f"{stack.sandbox_url}/admin/store/demo-store/apps/funnelsync")
    frame = page.frame_locator("#app-frame")
    await expect(frame.locator("#verified")).to_have_text(re.compile(r"^verified demo-store as user \d+$"))
    return frame


async def test_the_app_loads_in_the_admin_iframe_and_its_fetches_carry_verified_id_tokens(
    stack: Stack,
) -> None:
    frame = await install_and_open(stack)
    await expect(frame.locator("#whoami")).to_have_text("200 shop=demo-store")
    # Refused once with the package's retry header, retried once with a fresh token.
    await expect(frame.locator("#flaky")).to_have_text("200 ok=True calls=2")


async def test_a_toast_of_the_app_shows_in_the_admin(stack: Stack) -> None:
    frame = await install_and_open(stack)
    await frame.locator("#toast").click()
    await expect(stack.page.locator("#app-toasts .toast")).to_have_text("Saved")


async def test_the_admins_address_bar_follows_the_apps_navigation_and_reopens_there(stack: Stack) -> None:
    frame = await install_and_open(stack)
    await frame.locator("#navigate").click()
    deep = f"{stack.sandbox_url}/admin/store/demo-store/apps/funnelsync/funnels/7?tab=offers"
    await expect(stack.page).to_have_url(deep)

    await stack.page.reload()

    frame_element = stack.page.locator("#app-frame")
    assert re.match(r"http://127\.0\.0\.1:\d+/funnels/7\?", await frame_element.get_attribute("src") or "")
    await expect(frame.locator("#verified")).to_contain_text("verified demo-store")


async def test_a_document_without_an_id_token_gets_one_through_the_patch_page(stack: Stack) -> None:
    frame = await install_and_open(stack)
    await expect(frame.locator("#loads")).to_have_text("1")
    await frame.locator("#no-token").click()
    await expect(frame.locator("#loads")).to_have_text("2")
    await expect(frame.locator("#verified")).to_contain_text("verified demo-store")


async def test_the_packages_parent_redirect_leaves_the_iframe(stack: Stack) -> None:
    frame = await install_and_open(stack)
    await frame.locator("#leave").click()
    await expect(stack.page).to_have_url(f"{stack.sandbox_url}/admin/store/demo-store/apps")


async def test_a_fetch_answered_with_the_packages_reauthorize_url_leaves_the_iframe(stack: Stack) -> None:
    frame = await install_and_open(stack)
    await frame.locator("#fetch-leave").click()
    await expect(stack.page).to_have_url(f"{stack.sandbox_url}/admin/store/demo-store/apps")


async def test_window_open_top_and_top_links_navigate_the_admin_window(stack: Stack) -> None:
    frame = await install_and_open(stack)
    await frame.locator("#open-top").click()
    await expect(stack.page).to_have_url(f"{stack.sandbox_url}/admin/store/demo-store/apps")

    await stack.page.get_by_role("link", name="Open").click()
    await frame.locator("#top-link").click()
    await expect(stack.page).to_have_url(f"{stack.sandbox_url}/")


async def test_reopening_from_the_app_list_opens_the_app_without_install_or_consent(stack: Stack) -> None:
    await install_and_open(stack)
    page = stack.page
    await page.goto(f"{stack.sandbox_url}/admin/store/demo-store/apps")
    await page.get_by_role("link", name="Open").click()
    await expect(page).to_have_url(f"{stack.sandbox_url}/admin/store/demo-store/apps/funnelsync")
    await expect(page.frame_locator("#app-frame").locator("#verified")).to_contain_text("verified demo-store")
    assert stack.app.home_loads == 2


async def test_the_admin_page_does_not_scroll_sideways_at_390_px(stack: Stack) -> None:
    await install_and_open(stack)
    await stack.page.set_viewport_size({"width": 390, "height": 844})
    width = await stack.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
