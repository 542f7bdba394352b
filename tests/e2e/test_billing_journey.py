"""A merchant upgrades through Shopify's charge confirmation and sees the new limits."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.journey import admin_creates_plan, install
from tests.e2e.support import LiveStack, Screenshots


def test_merchant_upgrades_through_shopify_billing(
    page: Page, live_stack: LiveStack, screenshots: Screenshots
) -> None:
    admin_creates_plan(page, live_stack)
    page.context.clear_cookies()
    install(page, live_stack, "demo-advanced.myshopify.com")
    page.get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", name="Your plan: Free (shared CRM)")).to_be_visible()
    screenshots.take(page, "1-billing-free")
    page.get_by_role("button", name="Choose Growth").click()

    expect(page.get_by_text("59.00")).to_be_visible()  # Shopify's confirmation page
    screenshots.take(page, "2-shopify-confirmation")
    page.get_by_role("button", name="Approve").click()

    expect(page).to_have_url(re.compile(r"/billing/\?outcome=active$"))
    expect(page.get_by_text("Your new plan is active.")).to_be_visible()
    expect(page.get_by_role("heading", name="Your plan: Growth")).to_be_visible()
    expect(page.get_by_text("0 of 20", exact=True)).to_be_visible()  # live funnels
    screenshots.take(page, "3-billing-growth")
