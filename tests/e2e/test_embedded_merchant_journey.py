"""The whole merchant journey inside the sandbox admin's iframe, as on Shopify: managed install,
the six wizard steps, check answers, publish, a paid plan approved on Shopify's page (out of the
iframe and back into the admin), the CRM opened out of the iframe, and "Saved" as the admin's
toast. Every htmx request carries a fresh ID token and no cookie; the admin's address bar follows
the app, so reloading it opens the same page of the app."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, FrameLocator, Page, Request, expect

from tests.e2e.journey import admin_creates_plan
from tests.e2e.support import LiveStack, Screenshots

SHOP = "demo-store"
LONG = 30_000


@pytest.fixture
def ops_page(browser: Browser) -> Iterator[Page]:
    """The operator's own browser (standalone admin area): none of its cookies reach the merchant's."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    yield context.new_page()
    context.close()


def admin_url(live_stack: LiveStack) -> str:
    # The admin on another host name than the app's, as admin.shopify.com frames the app.
    return live_stack.shopify_url.replace("127.0.0.1", "localhost") + f"/admin/store/{SHOP}"


def heading(app: FrameLocator, text: str) -> None:
    expect(app.get_by_role("heading", level=1)).to_have_text(text, timeout=LONG)


def test_the_whole_merchant_journey_stays_inside_the_admins_iframe(
    live_stack: LiveStack, page: Page, ops_page: Page, screenshots: Screenshots
) -> None:
    admin_creates_plan(ops_page, live_stack)
    htmx_requests: list[Request] = []
    page.on(
        "request",
        lambda request: (
            htmx_requests.append(request)
            if request.url.startswith(live_stack.app_url) and request.headers.get("hx-request") == "true"
            else None
        ),
    )
    admin = admin_url(live_stack)
    app_path = f"/admin/store/{SHOP}/apps/funnelsync"

    # Managed install from the listing: the first load exchanges the ID token.
    page.goto(f"{admin}/app-store/funnelsync")
    page.get_by_role("button", name="Install").click()
    app = page.frame_locator("#app-frame")
    heading(app, "Your funnels")
    screenshots.take(page, "01-dashboard")

    # The six steps, each swapped in by htmx inside the iframe.
    app.get_by_role("button", name="Create a funnel").click()
    heading(app, "Campaign information")
    expect(page).to_have_url(re.compile(re.escape(app_path) + r"/funnels/\d+/campaign$"))  # address bar
    app.get_by_label("Campaign name").fill("Embedded launch")
    app.get_by_label("Description").fill("Made inside the admin.")
    app.get_by_label("Country").select_option("US")
    screenshots.take(page, "02-campaign")
    app.get_by_role("button", name="Save and continue").click()

    heading(app, "Main product")
    expect(page).to_have_url(re.compile(re.escape(app_path) + r"/funnels/\d+/product$"))
    app.get_by_label("Search products").fill("cotton")
    expect(app.get_by_text("Classic Cotton T-Shirt – S / White")).to_be_visible()
    screenshots.take(page, "03-product")
    app.get_by_role("button", name="Choose Classic Cotton T-Shirt – S / White").click()

    heading(app, "Upsells")
    app.get_by_label("Headline").fill("Add a cosy hoodie")
    app.get_by_label("Percentage off").check()
    app.get_by_label("Discount value").fill("15")
    app.get_by_label("Search products").fill("hoodie")
    app.get_by_label("Offer Organic Hoodie – M / Grey").check()
    screenshots.take(page, "04-upsells")
    app.get_by_role("button", name="Add upsell").click()
    expect(app.get_by_text("Add a cosy hoodie")).to_be_visible()
    app.get_by_role("button", name="Continue to templates").click()

    heading(app, "Template")
    app.get_by_label("Classic sales page").check()
    screenshots.take(page, "05-template")
    app.get_by_role("button", name="Use this template").click()

    heading(app, "Hosting")
    app.get_by_label("Subdomain", exact=True).fill("embedded-tees")
    expect(app.get_by_text("embedded-tees is available")).to_be_visible()
    screenshots.take(page, "06-hosting")
    app.get_by_role("button", name="Save and continue").click()

    # Check answers. No payment processor yet: "Set up in the CRM" leaves the iframe for the CRM.
    heading(app, "Check answers")
    expect(page).to_have_url(re.compile(re.escape(app_path) + r"/funnels/\d+/review$"))
    review_in_admin = page.url
    screenshots.take(page, "07-review")
    expect(app.get_by_text("None yet.")).to_be_visible()
    app.get_by_role("button", name="Set up in the CRM").click()
    expect(page).to_have_url(re.compile("^" + re.escape(live_stack.crm_url)), timeout=LONG)
    page.locator("#continue").click()
    page.get_by_label("Name").fill("Stripe")
    page.get_by_label("Kind").select_option("stripe")
    page.get_by_role("button", name="Add processor").click()
    screenshots.take(page, "08-crm-out-of-the-iframe")

    # Back to the admin's address, kept in step: the same step of the app opens.
    page.goto(review_in_admin)
    heading(app, "Check answers")
    expect(app.get_by_text("Stripe")).to_be_visible()
    app.get_by_role("button", name="Publish funnel").click()
    expect(app.get_by_text("Your funnel is live at")).to_be_visible(timeout=LONG)
    heading(app, "Embedded launch is live")
    screenshots.take(page, "09-live")

    # "Saved" through App Bridge: the admin shows the toast, outside the iframe.
    app.get_by_role("link", name="Funnel settings").click()
    heading(app, "Funnel settings")
    expect(page).to_have_url(re.compile(re.escape(app_path) + r"/funnels/\d+/settings/$"))
    app.get_by_label("Keep Orders Synchronized").click()
    expect(page.locator("#app-toasts .toast", has_text="Saved")).to_be_visible()
    screenshots.take(page, "10-saved-toast")

    # A paid plan: Shopify's confirmation page is outside the iframe; approving comes back into it.
    app.get_by_role("link", name="Dashboard").first.click()
    heading(app, "Your funnels")
    app.get_by_role("link", name="Billing").first.click()
    expect(app.get_by_role("heading", name="Your plan: Free (shared CRM)")).to_be_visible(timeout=LONG)
    screenshots.take(page, "11-billing-free")
    app.get_by_role("button", name="Choose Growth").click()
    expect(page.get_by_role("button", name="Approve")).to_be_visible(timeout=LONG)
    expect(page.locator("#app-frame")).to_have_count(0)  # the whole window, not the iframe
    screenshots.take(page, "12-shopify-confirmation")
    page.get_by_role("button", name="Approve").click()
    expect(page).to_have_url(re.compile(re.escape(app_path) + r"/billing/"), timeout=LONG)
    expect(app.get_by_text("Your new plan is active.")).to_be_visible(timeout=LONG)
    expect(app.get_by_role("heading", name="Your plan: Growth")).to_be_visible()
    screenshots.take(page, "13-billing-growth-back-in-the-admin")

    # "Open CRM" from the dashboard leaves the iframe too.
    app.get_by_role("link", name="Dashboard").first.click()
    heading(app, "Your funnels")
    app.get_by_role("button", name="Open CRM").click()
    expect(page).to_have_url(re.compile("^" + re.escape(live_stack.crm_url)), timeout=LONG)
    expect(page.get_by_text("Signed in to the CRM")).to_be_visible()

    # No cookie of the app at all, and every htmx request carried a fresh ID token.
    assert [c for c in page.context.cookies() if c["name"] == "funnelsync_session"] == []
    assert len(htmx_requests) > 15, len(htmx_requests)
    tokens = []
    for request in htmx_requests:
        headers = request.all_headers()
        assert headers.get("authorization", "").startswith("Bearer "), (request.method, request.url)
        assert "cookie" not in headers, (request.method, request.url)
        tokens.append(headers["authorization"])
    assert len(set(tokens)) == len(tokens), "an ID token was used twice"


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_no_merchant_page_inside_the_admin_scrolls_sideways_on_a_phone(
    live_stack: LiveStack, phone_page: Page, screenshots: Screenshots
) -> None:
    # Another shop than the journey's: any subset of this file's tests passes in any order.
    store = "demo-plus"
    admin = live_stack.shopify_url.replace("127.0.0.1", "localhost") + f"/admin/store/{store}"
    phone_page.goto(f"{admin}/app-store/funnelsync")
    phone_page.get_by_role("button", name="Install").click()
    app = phone_page.frame_locator("#app-frame")
    heading(app, "Your funnels")
    app.get_by_role("button", name="Create a funnel").click()
    heading(app, "Campaign information")
    expect(phone_page).to_have_url(re.compile(r"/funnels/\d+/campaign$"))
    funnel = phone_page.url.rsplit("/", 1)[0].rsplit("/", 1)[1]
    paths = ["app/", "billing/", f"funnels/{funnel}/settings/", f"funnels/{funnel}/sync/"]
    paths += [f"funnels/{funnel}/{step}" for step in ("campaign", "product", "upsells", "review")]
    paths += [f"funnels/{funnel}/delete"]

    too_wide = {}
    for path in paths:
        phone_page.goto(f"{admin}/apps/funnelsync/{path}")
        expect(app.locator("main h1"), path).to_be_visible(timeout=LONG)
        handle = phone_page.locator("#app-frame").element_handle()
        frame = handle.content_frame() if handle else None
        assert frame is not None
        root = "document.documentElement"
        widths = frame.evaluate(f"[{root}.scrollWidth, {root}.clientWidth]")
        if widths[0] > widths[1]:
            too_wide[path] = widths
        screenshots.take(phone_page, "phone-" + path.strip("/").replace("/", "-"))
    assert too_wide == {}, f"pages scroll sideways inside the admin's iframe: {too_wide}"
