"""Steps a merchant takes in the browser, shared by the browser tests."""

from __future__ import annotations

import re
from dataclasses import dataclass

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.e2e.support import LiveStack, Screenshots, sign_in_as_admin

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


def admin_creates_plan(page: Page, live_stack: LiveStack) -> None:
    sign_in_as_admin(page, live_stack, "billing-ops@example.com")
    page.get_by_role("button", name="New plan").click()
    page.get_by_label("Code").fill("growth")
    page.get_by_label("Name").fill("Growth")
    page.get_by_label("Price").fill("59.00")
    page.get_by_label("Live funnels").fill("20")
    page.get_by_label("Upsells per funnel").fill("4")
    page.get_by_label("Synced orders a month").fill("20000")
    page.get_by_role("button", name="Save plan").click()
    expect(page.get_by_text("59.00 USD / month")).to_be_visible()


def subdomain_checked_as_typed(page: Page) -> None:
    """Waits until htmx has bound the subdomain's inline check (on load, or after a swap): a
    value filled in before that in one go is never checked (a person typing goes on typing)."""
    page.wait_for_function(
        "() => !window.htmx || !!document.getElementById('subdomain')?.['htmx-internal-data']"
    )


def check_step(page: Page, screenshots: Screenshots, label: str, accessibility: list[str] | None) -> None:
    screenshots.take(page, label)
    if accessibility is not None:  # axe runs as script in the page, so only where script runs
        accessibility.extend(f"{label}: {problem}" for problem in serious_accessibility_violations(page))


@dataclass(frozen=True)
class UpsellChoice:
    """An upsell as the merchant adds it: found by `search`, offered as `offer` (the variant's label)."""

    search: str
    offer: str
    headline: str = "Add a cosy hoodie"
    discount: str = "Percentage off"
    value: str = "15"


def run_wizard(
    page: Page,
    live_stack: LiveStack,
    screenshots: Screenshots,
    *,
    subdomain: str,
    js: bool,
    upsell: tuple[str, str] = ("hoodie", "Organic Hoodie – M / Grey"),
    currency: str = "USD",  # the store's: a funnel sells at the store's own prices
) -> None:
    """All six steps with one upsell, then publish and open the live page."""
    problems: list[str] | None = [] if js else None
    build_funnel(
        page,
        screenshots,
        subdomain=subdomain,
        js=js,
        upsells=[UpsellChoice(*upsell)],
        currency=currency,
        problems=problems,
    )
    page.get_by_role("button", name="Publish funnel").click()
    see_it_live(page, screenshots, subdomain=subdomain, headlines=["Add a cosy hoodie"], problems=problems)
    assert not problems, problems


def build_funnel(
    page: Page,
    screenshots: Screenshots,
    *,
    subdomain: str,
    js: bool,
    upsells: list[UpsellChoice],
    currency: str = "USD",
    upsells_allowed: int = 1,
    problems: list[str] | None,
) -> None:
    """Steps 1 to 6, from the dashboard to Check answers with a payment processor set up in the
    CRM; `problems` collects axe's findings (None without JavaScript)."""
    screenshots.prefix += "-js" if js else "-nojs"
    page.get_by_role("button", name="Create a funnel").click()

    # 1. Campaign information, first with a mistake.
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaign information")
    page.get_by_label("Campaign name").fill("x" * 130)
    if js:  # checked as soon as the field is left, before saving
        page.get_by_label("Description").focus()
        expect(page.get_by_text("120 characters or fewer")).to_be_visible()
    page.get_by_label("Campaign name").fill("")
    page.get_by_label("Currency").select_option(currency)
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page.get_by_role("link", name="Enter a campaign name")).to_be_visible()
    if js:
        expect(page.locator(".error-summary")).to_be_focused()
    expect(page.get_by_label("Currency")).to_have_value(currency)  # kept
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

    # 3. Upsells, in order; the step says how many the plan publishes.
    expect(page.get_by_role("heading", level=1)).to_have_text("Upsells")
    plural = "" if upsells_allowed == 1 else "s"
    expect(page.locator("#plan-limit")).to_contain_text(f"up to {upsells_allowed} upsell{plural}.")
    for number, upsell in enumerate(upsells, start=1):
        page.get_by_label("Headline").fill(upsell.headline)
        page.get_by_label(upsell.discount).check()
        page.get_by_label("Discount value").fill(upsell.value)
        page.get_by_label("Search products").fill(upsell.search)
        if not js:
            page.get_by_role("button", name="Search").click()
            expect(page.get_by_label("Headline")).to_have_value(upsell.headline)  # kept across the search
        page.get_by_label(f"Offer {upsell.offer}").check()
        check_step(page, screenshots, "3-upsells" if number == 1 else f"3-upsells-{number}", problems)
        page.get_by_role("button", name="Add upsell").click()
        expect(page.locator(".upsell-list").get_by_text(upsell.headline)).to_be_visible()
    if len(upsells) > upsells_allowed:  # warned while building, not only at publish
        expect(page.get_by_text("more than your plan publishes")).to_be_visible()
        check_step(page, screenshots, "3-upsells-over-the-limit", problems)
    page.get_by_role("button", name="Continue to templates").click()

    # 4. Template
    expect(page.get_by_role("heading", level=1)).to_have_text("Template")
    page.get_by_label("Classic sales page").check()
    # Every template's preview loads (the CSP allows the page service's images).
    previews = page.locator(".template-card img")
    expect(previews.first).to_be_visible()
    for index in range(previews.count()):
        assert previews.nth(index).evaluate("image => image.complete && image.naturalWidth > 0"), index
    check_step(page, screenshots, "4-template", problems)
    page.get_by_role("button", name="Use this template").click()

    # 5. Hosting: a taken name first, then a free one.
    expect(page.get_by_role("heading", level=1)).to_have_text("Hosting")
    subdomain_checked_as_typed(page)
    page.get_by_label("Subdomain", exact=True).fill("taken-shop")
    if js:
        expect(page.get_by_text("taken-shop is already taken")).to_be_visible()
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("link", name=re.compile("already taken"))).to_be_visible()
    subdomain_checked_as_typed(page)
    page.get_by_label("Subdomain", exact=True).fill(subdomain)
    if js:  # the inline check finds the new name free: the summary no longer says it is taken
        expect(page.get_by_text(f"{subdomain} is available")).to_be_visible()
        expect(page.locator(".error-summary")).to_have_count(0)
        expect(page.locator("#subdomain-error")).to_have_count(0)
        expect(page.get_by_label("Subdomain", exact=True)).not_to_have_attribute("aria-invalid", "true")
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


def see_it_live(
    page: Page, screenshots: Screenshots, *, subdomain: str, headlines: list[str], problems: list[str] | None
) -> None:
    """After "Publish funnel": the publishing page says it is live; its link opens the page."""
    expect(page.get_by_text("Your funnel is live at")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", level=1)).to_have_text("Summer launch is live")
    expect(page).to_have_title("Summer launch is live · FunnelSync")
    check_step(page, screenshots, "7-published", problems)
    page.locator(f'a[href$="/p/{subdomain}/"]').first.click()
    expect(page.get_by_text("Summer launch").first).to_be_visible()
    for headline in headlines:
        expect(page.get_by_text(headline)).to_be_visible()
    screenshots.take(page, "8-live-page")
