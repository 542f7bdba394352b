"""From a fresh install to a live funnel through all six steps, in Chromium, with and without JavaScript."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.journey import install, run_wizard
from tests.e2e.support import LiveStack, Screenshots


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, java_script_enabled=False)
    yield context.new_page()
    context.close()


def test_new_merchant_reaches_a_live_funnel(
    page: Page, live_stack: LiveStack, screenshots: Screenshots
) -> None:
    install(page, live_stack, "demo-store.myshopify.com")
    run_wizard(page, live_stack, screenshots, subdomain="summer-tees", js=True)


def test_the_same_path_works_without_javascript(
    no_js_page: Page, live_stack: LiveStack, screenshots: Screenshots
) -> None:
    # Another store: the free plan allows one live funnel per shop.
    install(no_js_page, live_stack, "demo-plus.myshopify.com")
    run_wizard(
        no_js_page,
        live_stack,
        screenshots,
        subdomain="plus-offers",
        js=False,
        upsell=("jacket", "Rain Jacket – M / Yellow"),  # in stock: a sold-out upsell is left off the page
        currency="EUR",  # demo-plus sells in euros
    )
    # The pages after the wizard work without JavaScript too: settings saved by their button,
    # sync health, billing.
    no_js_page.goto(live_stack.app_url + "/app/")
    no_js_page.get_by_role("link", name="Settings").first.click()
    no_js_page.get_by_label("Keep Orders Synchronized").uncheck()
    no_js_page.get_by_role("button", name="Save settings").click()
    expect(no_js_page.get_by_role("status").filter(has_text="Settings saved.")).to_be_visible()
    expect(no_js_page.get_by_label("Keep Orders Synchronized")).not_to_be_checked()
    screenshots.take(no_js_page, "9-settings-saved")
    no_js_page.get_by_role("button", name="Sync health").click()  # the page header's action
    expect(no_js_page.get_by_role("heading", level=1)).to_have_text("Sync health")
    no_js_page.goto(live_stack.app_url + "/billing/")
    expect(no_js_page.get_by_role("heading", name="Your plan: Free (shared CRM)")).to_be_visible()
    screenshots.take(no_js_page, "10-billing")


def test_wizard_fits_a_phone_screen(
    phone_page: Page, live_stack: LiveStack, screenshots: Screenshots
) -> None:
    install(phone_page, live_stack, "demo-advanced.myshopify.com")
    phone_page.get_by_role("button", name="Create a funnel").click()
    expect(phone_page.get_by_role("heading", level=1)).to_have_text("Campaign information")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
    screenshots.take(phone_page, "phone-campaign")


def test_first_step_works_with_the_keyboard_alone(page: Page, live_stack: LiveStack) -> None:
    install(page, live_stack, "demo-enterprise.myshopify.com")
    create = page.get_by_role("button", name="Create a funnel")
    create.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaign information")
    page.get_by_label("Campaign name").focus()
    page.keyboard.type("Keyboard launch")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Description")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Currency")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Country")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Save and continue")).to_be_focused()
    page.keyboard.press("Enter")
    # No country chosen (the currency starts as the store's, pounds here): the summary takes
    # the focus and links to the field.
    expect(page.locator(".error-summary")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Choose the country your funnel sells to")).to_be_focused()
    expect(page.get_by_label("Currency")).to_have_value("GBP")
