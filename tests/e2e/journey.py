"""Steps a merchant takes in the browser, shared by the browser tests."""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveStack

SERIOUS = {"serious", "critical"}


def serious_accessibility_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']}: {violation['help']}"
        for violation in results.response["violations"]
        if violation.get("impact") in SERIOUS
    ]


def install(page: Page, live_stack: LiveStack, shop: str) -> None:
    page.goto(live_stack.shopify_url + "/")
    page.locator("li.shop", has_text=shop).get_by_role("link", name="Install app").click()
    page.get_by_role("button", name="Install app").click()
    expect(page).to_have_url(re.compile(r"/setup/?$"))
    # Without JavaScript the page refreshes itself; with it, htmx polls.
    expect(page.get_by_text("Your accounts are ready.")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your funnels")).to_be_visible()
