"""From a fresh install to a live funnel through all six steps, in Chromium, with and without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LiveStack, Screenshots
from tests.e2e.journey import install, serious_accessibility_violations


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


def check_step(page: Page, screenshots: Screenshots, label: str, accessibility: list[str] | None) -> None:
    screenshots.take(page, label)
    if accessibility is not None:  # axe runs as script in the page, so only where script runs
        accessibility.extend(f"{label}: {problem}" for problem in serious_accessibility_violations(page))


def run_wizard(
    page: Page,
    live_stack: LiveStack,
    screenshots: Screenshots,
    *,
    subdomain: str,
    js: bool,
    upsell: tuple[str, str] = ("hoodie", "Organic Hoodie – M / Grey"),
) -> None:
    problems: list[str] | None = [] if js else None
    screenshots.prefix += "-js" if js else "-nojs"
    page.get_by_role("button", name="Create a funnel").click()

    # 1. Campaign information, first with a mistake.
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaign information")
    page.get_by_label("Campaign name").fill("x" * 130)
    if js:  # checked as soon as the field is left, before saving
        page.get_by_label("Description").focus()
        expect(page.get_by_text("120 characters or fewer")).to_be_visible()
    page.get_by_label("Campaign name").fill("")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page.get_by_role("link", name="Enter a campaign name")).to_be_visible()
    if js:
        expect(page.locator(".error-summary")).to_be_focused()
    expect(page.get_by_label("Currency")).to_have_value("USD")  # kept
    check_step(page, screenshots, "1b-campaign-error", problems)
    page.get_by_label("Campaign name").fill("Summer launch")
    page.get_by_label("Description").fill("Our best tees, with a hoodie to go.")
    page.get_by_label("Country").select_option("US")
    check_step(page, screenshots, "1-campaign", problems)
    page.get_by_role("button", name="Save and continue").click()
    expect(page).to_have_url(re.compile(r"/funnels/\d+/product$"))  # with htmx too, the address follows

    # 2. Main product: search the catalogue.
    expect(page.get_by_role("heading", level=1)).to_have_text("Main product")
    page.get_by_label("Search products").fill("cotton")
    if not js:
        page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("Classic Cotton T-Shirt – S / White")).to_be_visible()
    check_step(page, screenshots, "2-product", problems)
    page.get_by_role("button", name="Choose Classic Cotton T-Shirt – S / White").click()

    # 3. Upsells: one offer.
    expect(page.get_by_role("heading", level=1)).to_have_text("Upsells")
    page.get_by_label("Headline").fill("Add a cosy hoodie")
    page.get_by_label("Percentage off").check()
    page.get_by_label("Discount value").fill("15")
    page.get_by_label("Search products").fill(upsell[0])
    if not js:
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_label("Headline")).to_have_value("Add a cosy hoodie")  # kept across the search
    page.get_by_label(f"Offer {upsell[1]}").check()
    check_step(page, screenshots, "3-upsells", problems)
    page.get_by_role("button", name="Add upsell").click()
    expect(page.get_by_text("Add a cosy hoodie")).to_be_visible()
    page.get_by_role("button", name="Continue to templates").click()

    # 4. Template
    expect(page.get_by_role("heading", level=1)).to_have_text("Template")
    page.get_by_label("Classic sales page").check()
    check_step(page, screenshots, "4-template", problems)
    page.get_by_role("button", name="Use this template").click()

    # 5. Hosting: a taken name first, then a free one.
    expect(page.get_by_role("heading", level=1)).to_have_text("Hosting")
    page.get_by_label("Subdomain", exact=True).fill("taken-shop")
    if js:
        expect(page.get_by_text("taken-shop is already taken")).to_be_visible()
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("link", name=re.compile("already taken"))).to_be_visible()
    page.get_by_label("Subdomain", exact=True).fill(subdomain)
    check_step(page, screenshots, "5-hosting", problems)
    page.get_by_role("button", name="Save and continue").click()

    # 6. Check answers. A first funnel has no payment processor yet: set one up in the CRM.
    expect(page.get_by_role("heading", level=1)).to_have_text("Check answers")
    check_step(page, screenshots, "6-review", problems)
    if page.get_by_text("None yet.").count():
        review_url = page.url
        page.get_by_role("button", name="Set up in the CRM").click()
        page.locator("#continue").click()
        page.get_by_label("Name").fill("Stripe")
        page.get_by_label("Kind").select_option("stripe")
        page.get_by_role("button", name="Add processor").click()
        page.goto(review_url)
    expect(page.get_by_text("Stripe")).to_be_visible()
    page.get_by_role("button", name="Publish funnel").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Publishing Summer launch")
    expect(page.get_by_text("Your funnel is live at")).to_be_visible(timeout=30_000)
    check_step(page, screenshots, "7-published", problems)
    page.locator(f'a[href$="/p/{subdomain}/"]').first.click()
    expect(page.get_by_text("Summer launch").first).to_be_visible()
    expect(page.get_by_text("Add a cosy hoodie")).to_be_visible()
    screenshots.take(page, "8-live-page")
    assert not problems, problems


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
        upsell=("jacket", "Rain Jacket – S / Yellow"),
    )


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
    # Nothing chosen for currency and country: the summary takes the focus and links to the fields.
    expect(page.locator(".error-summary")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Choose the currency your funnel sells in")).to_be_focused()
