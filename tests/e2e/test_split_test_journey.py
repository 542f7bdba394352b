"""A merchant split-tests a live funnel's headline and makes variant B the funnel."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.journey import install, run_wizard, serious_accessibility_violations
from tests.e2e.support import LiveStack, Screenshots

SHOP = "demo-store.myshopify.com"
DOWNSELL_SHOP = "demo-plus.myshopify.com"
PHONE_WIDTH = 390
B_HEADLINE = "Tees that last all summer"


def look(page: Page, screenshots: Screenshots, label: str) -> list[str]:
    """Screenshots at 1280 and 390 px; the serious accessibility problems and a page wider than
    a phone, if any."""
    problems = [f"{label}: {problem}" for problem in serious_accessibility_violations(page)]
    screenshots.take(page, f"{label}-1280")
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE_WIDTH:
        problems.append(f"{label}: {width}px wide at {PHONE_WIDTH}px")
    problems += [f"{label} (390): {problem}" for problem in serious_accessibility_violations(page)]
    screenshots.take(page, f"{label}-390")
    page.set_viewport_size({"width": 1280, "height": 860})
    return problems


def test_a_merchant_runs_a_split_test_and_chooses_the_winner(
    page: Page, live_stack: LiveStack, screenshots: Screenshots
) -> None:
    install(page, live_stack, SHOP)
    if not page.locator(".status-live").count():
        run_wizard(page, live_stack, screenshots, subdomain="split-tees", js=True)
    page.goto(live_stack.app_url + "/app/")
    page.get_by_role("link", name=re.compile("^Split tests")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Split tests")
    problems = look(page, screenshots, "1-start")

    # A split of 0 % is refused with the reason; what was typed stays.
    page.get_by_label("Headline", exact=True).check()
    page.get_by_label(re.compile("^Headline .if testing")).fill(B_HEADLINE)
    page.get_by_label(re.compile("Share of visitors")).fill("0")
    page.get_by_role("button", name="Start the test").click()
    expect(page.get_by_role("link", name=re.compile("sends nobody to variant B"))).to_be_visible()
    expect(page.get_by_label(re.compile("^Headline .if testing"))).to_have_value(B_HEADLINE)
    problems += look(page, screenshots, "2-bad-split")

    page.get_by_label(re.compile("Share of visitors")).fill("50")
    page.get_by_role("button", name="Start the test").click()
    running = page.get_by_role("heading", name="Running test: headline")
    for _ in range(40):  # variant B's page is published by the worker in the background
        if running.count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(running).to_be_visible()
    expect(page.get_by_text("Two-proportion z-test")).to_be_visible()
    expect(page.get_by_text("Not enough data yet")).to_be_visible()
    problems += look(page, screenshots, "3-running")

    page.get_by_role("button", name="Make variant B the funnel").click()
    expect(page.get_by_role("status")).to_contain_text("Test ended")
    expect(page.get_by_text("Winner: variant B")).to_be_visible()
    problems += look(page, screenshots, "4-ended")
    start_again = page.get_by_role("heading", name="Start a test")
    for _ in range(40):  # the funnel is published again with B's headline, then can be tested anew
        if start_again.count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(start_again).to_be_visible()

    # The funnel now shows B's headline, once the worker has published it again.
    page.goto(live_stack.app_url + "/app/")
    live = page.locator("a[href*='/p/split-tees/']")
    url = live.first.get_attribute("href") if live.count() else None
    if url:
        page.goto(url)
        headline = page.get_by_text(B_HEADLINE)
        for _ in range(40):
            if headline.count():
                break
            page.wait_for_timeout(500)
            page.reload()
        expect(headline).to_be_visible()
        screenshots.take(page, "5-live-page-after")
    assert problems == [], problems


def test_a_merchant_adds_a_downsell_that_a_shopper_sees_after_declining_the_upsell(
    page: Page, live_stack: LiveStack, screenshots: Screenshots
) -> None:
    # A shop of its own: the stack is shared by this file's tests, in any order.
    install(page, live_stack, DOWNSELL_SHOP)
    run_wizard(
        page,
        live_stack,
        screenshots,
        subdomain="downsell-tees",
        js=True,
        upsell=("jacket", "Rain Jacket – M / Yellow"),
        currency="EUR",  # demo-plus sells in euros
    )
    page.goto(live_stack.app_url + "/app/")
    opened = page.locator("a", has_text=re.compile("^Open$")).first.get_attribute("href")
    assert opened is not None
    page.goto(live_stack.app_url + opened.rstrip("/") + "/upsells")
    page.get_by_role("link", name="Add a downsell").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Downsell (optional)")

    page.get_by_role("button", name="Save downsell").click()  # nothing filled in: each field says why
    expect(page.get_by_role("link", name=re.compile("Enter a headline"))).to_be_visible()
    problems = look(page, screenshots, "downsell-1-errors")
    page.get_by_label("Headline", exact=True).fill("Last chance: the jacket at 30% off")
    page.get_by_label("Percentage off").check()
    page.get_by_label("Discount value").fill("30")
    page.get_by_label("Search products").fill("jacket")
    page.get_by_label("Offer Rain Jacket – M / Yellow").check()
    problems += look(page, screenshots, "downsell-2-filled")
    page.get_by_role("button", name="Save downsell").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Upsells")
    expect(page.get_by_text("Last chance: the jacket at 30% off")).to_be_visible()
    problems += look(page, screenshots, "downsell-3-upsells")

    page.goto(page.url.rsplit("/", 1)[0] + "/review")
    expect(page.get_by_text("Shown when a shopper says")).to_be_visible()
    page.get_by_role("button", name="Publish funnel").click()
    expect(page.get_by_text("Your funnel is live at")).to_be_visible(timeout=30_000)
    page.locator("a[href$='/p/downsell-tees/']").first.click()
    downsell = page.locator("#downsell")
    expect(downsell).to_be_hidden()  # only after a "No, thanks"
    page.locator(".upsell").get_by_role("link", name="No, thanks").first.click()
    expect(downsell).to_be_visible()
    expect(downsell.get_by_text("Last chance: the jacket at 30% off")).to_be_visible()
    screenshots.take(page, "downsell-4-live-after-decline")
    assert problems == [], problems
