"""No merchant or admin page is wider than a phone's screen (390 px): nothing scrolls sideways."""

from __future__ import annotations

import re

from playwright.sync_api import Page

from tests.e2e.journey import install, run_wizard
from tests.e2e.support import LiveStack, Screenshots, sign_in_as_admin

PHONE_WIDTH = 390


def test_no_merchant_or_admin_page_scrolls_sideways_on_a_phone(
    page: Page, live_stack: LiveStack, screenshots: Screenshots
) -> None:
    install(page, live_stack, "demo-store.myshopify.com")
    run_wizard(page, live_stack, screenshots, subdomain="narrow-tees", js=True)
    page.goto(live_stack.app_url + "/app/")
    settings_link = page.get_by_role("link", name="Settings").first.get_attribute("href") or ""
    funnel = re.fullmatch(r"/funnels/(\d+)/settings/", settings_link)
    assert funnel, settings_link
    funnel_pages = [
        f"/funnels/{funnel.group(1)}/{step}"
        for step in ("campaign", "product", "upsells", "template", "hosting", "review", "publishing")
    ] + [f"/funnels/{funnel.group(1)}/settings/", f"/funnels/{funnel.group(1)}/sync/"]
    merchant_pages = ["/app/", "/billing/", "/setup", *funnel_pages, f"/funnels/{funnel.group(1)}/archive"]
    merchant_pages += [f"/funnels/{funnel.group(1)}/delete"]
    admin_pages = ["/admin/plans", "/admin/plans/new", "/admin/shops", "/admin/subscriptions", "/admin/sync"]
    admin_pages += ["/admin/dead-letters", "/admin/audit"]
    sign_in_as_admin(page, live_stack, "narrow-ops@example.com")
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 844})

    too_wide = {}
    for path in merchant_pages + admin_pages:
        page.goto(live_stack.app_url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE_WIDTH:
            too_wide[path] = width
        screenshots.take(page, "phone" + re.sub(r"[/]+", "-", path).rstrip("-"))

    assert too_wide == {}, f"pages wider than {PHONE_WIDTH}px: {too_wide}"
