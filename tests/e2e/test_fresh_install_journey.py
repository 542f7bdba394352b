"""Issue 17's proof in one journey, on `make run`'s own stack (`python -m onboarding dev`, a new
database): install, a funnel with two upsells (the upsells step shows the plan's limit),
publishing refused for the plan, the upgrade through Shopify's confirmation page (a plan the
migrations seeded: no admin step), back on Check answers, publish, the live page at the CRM's
prices; then a price changed through Shopify's Admin API reaches the CRM offer, the live page
and the funnel's "page matched your store" time. Every merchant page at 1280 and 390 px wide,
axe and the console clean."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Any

import httpx
from babel.numbers import format_currency
from playwright.sync_api import ConsoleMessage, Page, ViewportSize, expect

from tests.e2e.journey import UpsellChoice, build_funnel, check_step, install, see_it_live
from tests.e2e.support import LiveStack, Screenshots

SHOP = "demo-store.myshopify.com"
SUBDOMAIN = "summer-tees"
HOODIE = UpsellChoice("hoodie", "Organic Hoodie – M / Grey")
MUG = UpsellChoice(
    "mug", "Stoneware Mug – Speckled", headline="A mug for your coffee", discount="Amount off", value="2.50"
)
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 860}


def at_both_widths(page: Page, screenshots: Screenshots, label: str, problems: list[str]) -> None:
    """Screenshot and axe at 1280 px, then at 390 px, where nothing may scroll sideways."""
    check_step(page, screenshots, label, problems)
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{label} scrolls sideways at 390 px ({width}px)"
    screenshots.take(page, f"{label}-390")
    page.set_viewport_size(DESKTOP)


def usd(amount: str) -> str:
    return format_currency(Decimal(amount), "USD", locale="en_US")


def crm_prices(stack: LiveStack) -> list[str]:
    """What the CRM charges for each offer of the campaign, in order, read from its sandbox."""
    [campaign] = httpx.get(f"{stack.crm_url}/_sandbox/campaigns", timeout=10).json()["data"]
    return [offer["price"] for offer in sorted(campaign["offers"], key=lambda offer: offer["position"])]


def page_prices(html: str) -> list[str]:
    return re.findall(r'class="offer-price">([^<]+)<', html)


def until(check: Any, what: str, seconds: float = 60) -> Any:
    """Polls `check` until it returns something truthy, with a deadline."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        time.sleep(0.2)


def shopify_admin(stack: LiveStack, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Shopify's Admin GraphQL API of the sandbox, with a token it mints for the test."""
    token = httpx.post(f"{stack.shopify_url}/_sandbox/shops/{SHOP}/tokens", timeout=10).json()["access_token"]
    answer = httpx.post(
        f"{stack.shopify_url}/shops/{SHOP}/admin/api/2026-10/graphql.json",
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": token},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def change_tee_price(stack: LiveStack, price: str) -> None:
    """The merchant edits the T-shirt's price in Shopify (its Admin API, as Shopify's admin does)."""
    found = shopify_admin(
        stack,
        'query { products(first: 1, query: "title:Classic Cotton T-Shirt") { nodes { id'
        " variants(first: 10) { nodes { id title } } } } }",
        {},
    )
    [product] = found["products"]["nodes"]
    variant = next(v for v in product["variants"]["nodes"] if v["title"] == "S / White")
    changed = shopify_admin(
        stack,
        "mutation($product: ID!, $variants: [ProductVariantsBulkInput!]!) {"
        " productVariantsBulkUpdate(productId: $product, variants: $variants) {"
        " productVariants { id price } userErrors { field message } } }",
        {"product": product["id"], "variants": [{"id": variant["id"], "price": price}]},
    )
    assert changed["productVariantsBulkUpdate"]["userErrors"] == []


def page_matched_at(page: Page, stack: LiveStack) -> str:
    page.goto(f"{stack.app_url}/app/")
    return str(page.locator(".page-synced time").get_attribute("datetime"))


def test_a_fresh_install_upgrades_publishes_and_its_page_follows_the_store(
    page: Page, dev_stack: LiveStack, screenshots: Screenshots
) -> None:
    console_errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        # The app's pages only (the sandboxes' have no favicon), and not Chromium's network line
        # for the 400 that answers a form with mistakes on purpose (HTTP's "bad request").
        deliberate = "the server responded with a status of 400" in message.text
        if message.type == "error" and page.url.startswith(dev_stack.app_url) and not deliberate:
            console_errors.append(f"{page.url}: {message.text}")

    page.on("console", record)
    problems: list[str] = []
    install(page, dev_stack, SHOP)
    at_both_widths(page, screenshots, "0-dashboard", problems)

    build_funnel(page, screenshots, subdomain=SUBDOMAIN, js=True, upsells=[HOODIE, MUG], problems=problems)
    review_path = re.sub(r"^https?://[^/]+", "", page.url)
    assert re.fullmatch(r"/funnels/\d+/review", review_path), review_path
    page.get_by_role("button", name="Publish funnel").click()
    expect(page.get_by_text("plan allows 1 upsell")).to_be_visible()
    at_both_widths(page, screenshots, "6b-refused-for-the-plan", problems)

    page.get_by_role("link", name="See plans and upgrade").click()
    expect(page.get_by_role("heading", name="Your plan: Free (shared CRM)")).to_be_visible()
    expect(page.get_by_role("link", name="Go back without changing plan")).to_have_attribute(
        "href", review_path
    )
    at_both_widths(page, screenshots, "9-billing", problems)
    page.get_by_role("button", name="Choose Launch").click()
    expect(page.get_by_text("19.00")).to_be_visible()  # Shopify's confirmation page
    screenshots.take(page, "10-shopify-confirmation")
    page.get_by_role("button", name="Approve").click()

    expect(page).to_have_url(re.compile(rf"{re.escape(review_path)}\?billing=active$"))
    expect(page.get_by_text("Your new plan is active. You can publish now.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check answers")
    at_both_widths(page, screenshots, "11-review-after-upgrade", problems)
    page.get_by_role("button", name="Publish funnel").click()
    see_it_live(
        page, screenshots, subdomain=SUBDOMAIN, headlines=[HOODIE.headline, MUG.headline], problems=problems
    )

    # The live page: every price is the CRM's for that offer, in the shop's currency.
    charged = crm_prices(dev_stack)
    assert charged == ["19.99", "47.60", "15.50"]  # the tee; 15 % off 56.00; 2.50 off 18.00
    assert page_prices(page.content()) == [usd(price) for price in charged]
    assert "discount_type" not in page.content()
    at_both_widths(page, screenshots, "8-live-page", problems)
    live_url = page.url
    first_match = page_matched_at(page, dev_stack)

    change_tee_price(dev_stack, "24.99")

    until(lambda: crm_prices(dev_stack)[0] == "24.99", "the CRM offer has the new price")
    until(
        lambda: page_prices(httpx.get(live_url, timeout=10).text)[0] == usd("24.99"),
        "the live page shows the new price",
    )
    page.goto(live_url)
    assert page_prices(page.content()) == [usd(price) for price in crm_prices(dev_stack)]
    at_both_widths(page, screenshots, "12-live-page-new-price", problems)
    later_match = until(
        lambda: (found := page_matched_at(page, dev_stack)) > first_match and found, "the page matched again"
    )
    assert later_match > first_match
    at_both_widths(page, screenshots, "13-dashboard-matched-again", problems)

    assert problems == []
    assert console_errors == [], "\n".join(console_errors)
