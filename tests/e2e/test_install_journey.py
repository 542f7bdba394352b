"""A merchant installs the app from the Shopify sandbox in a real browser, then opens the CRM."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.support import LiveStack, Screenshots
from tests.support.environment import LOGS_DIR

SHOP = "demo-store.myshopify.com"


def test_install_from_shopify_to_dashboard_and_crm(
    page: Page, live_stack: LiveStack, screenshots: Screenshots
) -> None:
    page.goto(live_stack.shopify_url + "/")
    screenshots.take(page, "1-shopify-start")
    page.locator("li.shop", has_text=SHOP).get_by_role("link", name="Install app").click()

    expect(page.get_by_role("button", name="Install app")).to_be_visible()
    expect(page.get_by_text("write_products")).to_be_visible()
    screenshots.take(page, "2-consent")
    page.get_by_role("button", name="Install app").click()

    expect(page).to_have_url(re.compile(r"/setup/?$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Setting up your CRM and page builder accounts")
    screenshots.take(page, "3-setup-progress")
    expect(page.get_by_text("Your accounts are ready.")).to_be_visible(timeout=20_000)
    screenshots.take(page, "4-setup-done")

    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your funnels")).to_be_visible()
    expect(page.get_by_role("button", name="Create a funnel")).to_be_visible()
    screenshots.take(page, "5-dashboard")

    page.get_by_role("button", name="Open CRM").click()
    expect(page).to_have_url(re.compile(re.escape(live_stack.crm_url) + r"/"))
    expect(page.get_by_text("Signed in to the CRM")).to_be_visible()
    screenshots.take(page, "6-crm-signed-in")

    # Every link the CRM minted was used once; our logs never held one.
    links = httpx.get(f"{live_stack.crm_url}/_sandbox/login-links", timeout=5).json()["data"]
    assert links
    assert {link["status"] for link in links} == {"used"}
    assert "/login/" not in (LOGS_DIR / "app.log").read_text()
