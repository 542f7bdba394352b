"""Inside the Shopify admin: the sandbox's store admin frames the app from another site (so the
app's cookies never reach it, as on Shopify), installs it the Shopify-managed way from its
listing, and the merchant works in the iframe: the first load exchanges the ID token, htmx
requests carry a fresh ID token from App Bridge, and opening the app again shows no consent."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.support import LiveStack, Screenshots


def test_install_from_the_listing_and_build_a_funnel_inside_the_admins_iframe(
    live_stack: LiveStack, page: Page, screenshots: Screenshots
) -> None:
    admin = live_stack.shopify_url.replace("127.0.0.1", "localhost") + "/admin/store/demo-advanced"
    page.goto(f"{admin}/app-store/funnelsync")
    screenshots.take(page, "01-listing")
    page.get_by_role("button", name="Install").click()

    app = page.frame_locator("#app-frame")
    expect(app.get_by_role("heading", name="Your funnels")).to_be_visible(timeout=20_000)
    screenshots.take(page, "02-first-load-in-the-iframe")
    # No cookie of the app reached the iframe: the ID token alone signed the merchant in.
    assert [c for c in page.context.cookies() if c["name"] == "funnelsync_session"] == []

    # A boosted form (htmx) inside the iframe: it carries App Bridge's ID token, no CSRF cookie.
    app.get_by_role("button", name="Create a funnel").click()
    expect(app.get_by_role("heading", name="Campaign information")).to_be_visible(timeout=20_000)
    screenshots.take(page, "03-wizard-step-in-the-iframe")

    # Re-opening the app from the admin's app list: straight in, no consent screen.
    page.goto(f"{admin}/apps")
    page.get_by_role("link", name="Open").first.click()
    expect(app.get_by_role("heading", name="Your funnels")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("wants to access")).to_have_count(0)
    screenshots.take(page, "04-reopened")
