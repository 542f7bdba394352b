"""What a person sees first: the app's home page and the Shopify sandbox's start page."""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e.support import LiveStack, Screenshots


def test_home_page_explains_the_product_and_links_to_the_sandbox(
    page: Page, live_stack: LiveStack, screenshots: Screenshots
) -> None:
    console_errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    page.on("console", record)
    page.goto(live_stack.app_url + "/")
    expect(page).to_have_title("Your first sales funnel · FunnelSync")
    expect(page.get_by_role("heading", level=1)).to_contain_text("live sales funnel")
    expect(page.get_by_role("heading", name="How to start")).to_be_visible()
    # htmx loaded from the vendored file, so the integrity hash and the CSP both allowed it.
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("window.htmx.version").startswith("2.0.")
    screenshots.take(page, "home")
    assert console_errors == []

    page.get_by_role("button", name="Open the Shopify sandbox").click()
    expect(page).to_have_url(live_stack.shopify_url + "/")
    expect(page.get_by_text("demo-store.myshopify.com").first).to_be_visible()
    expect(page.get_by_role("link", name="Install app").first).to_be_visible()
    screenshots.take(page, "shopify-sandbox-start")


def test_unknown_page_shows_the_friendly_error(
    page: Page, live_stack: LiveStack, screenshots: Screenshots
) -> None:
    response = page.goto(live_stack.app_url + "/no-such-page")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("link", name="Go to the home page")).to_be_visible()
    screenshots.take(page, "not-found")
