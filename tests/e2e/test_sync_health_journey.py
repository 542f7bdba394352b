"""A merchant sees why an order did not reach the CRM, on the funnel's sync health page."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from sandbox.shopify.seed import FIRST_ID
from tests.e2e.journey import install, run_wizard, serious_accessibility_violations
from tests.e2e.support import LiveStack, Screenshots

SHOP = "demo-store.myshopify.com"


def test_a_refused_order_is_explained_on_sync_health(
    page: Page, live_stack: LiveStack, screenshots: Screenshots
) -> None:
    install(page, live_stack, SHOP)
    # The free plan allows one live funnel: publish one unless an earlier test of this file,
    # on the same stack, already did.
    if not page.locator(".status-live").count():
        run_wizard(page, live_stack, screenshots, subdomain="sync-health-tees", js=True)

    # A shopper checks out with a German mobile number and a US delivery address: the CRM refuses it.
    placed = httpx.post(
        f"{live_stack.shopify_url}/_sandbox/shops/{SHOP}/orders",
        json={
            "email": "hans@example.com",
            "firstName": "Hans",
            "lastName": "Weber",
            "phone": "+4915112345678",
            "lineItems": [{"variantId": f"gid://shopify/ProductVariant/{FIRST_ID + 8}", "quantity": 1}],
            "shippingAddress": {
                "firstName": "Hans",
                "lastName": "Weber",
                "address1": "1 Elm St",
                "city": "Austin",
                "provinceCode": "TX",
                "zip": "78701",
                "countryCode": "US",
            },
        },
        timeout=10,
    )
    assert placed.status_code == 201, placed.text

    page.goto(live_stack.app_url + "/app/")
    page.get_by_role("link", name="Sync health").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sync health")
    reason = page.get_by_text(re.compile("phone number is not valid"))
    for _ in range(20):  # the worker takes the order in the background
        if reason.count():
            break
        page.wait_for_timeout(500)
        page.reload()
    # The customer and their order are both refused for it: each entry says what to fix.
    expect(reason.first).to_be_visible()
    expect(page.get_by_role("button", name="Retry").first).to_be_visible()
    screenshots.take(page, "sync-health-refused-order")
    assert serious_accessibility_violations(page) == []

    page.get_by_role("button", name="Sync catalog now").click()
    expect(page.get_by_text("Your catalog is being sent to the CRM now.")).to_be_visible()
    screenshots.take(page, "sync-health-catalog-now")
