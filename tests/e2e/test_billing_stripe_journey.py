"""Billing through Stripe in the browser: a merchant subscribes on the Stripe sandbox's hosted
checkout page and sees the new limits; an admin changes the price and the subscriber keeps
theirs; a renewal fails and the dashboard and billing page say what to do.

The real app (BILLING_PROVIDER=stripe) and the sandboxes (Stripe's among them, which signs
its webhooks to the app's /webhooks/stripe) run as processes on free loopback ports.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.journey import install, serious_accessibility_violations
from tests.e2e.support import LiveStack, Screenshots, sign_in_as_admin
from tests.support.processes import free_port, start_process, stop_process, wait_until_healthy

SHOP = "demo-plus.myshopify.com"
ADMIN_EMAIL = "stripe-ops@example.com"


@dataclass(frozen=True)
class StripeLiveStack:
    live: LiveStack
    stripe_url: str


@pytest.fixture(scope="module")
def stripe_live_stack(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StripeLiveStack]:
    workdir = tmp_path_factory.mktemp("live-stripe")
    database = workdir / "app.sqlite3"
    shutil.copyfile(sqlite_template, database)
    names = ("shopify", "crm", "templates", "stripe")
    ports = {name: free_port() for name in ("app", *names)}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    app_url = urls["app"]
    env = {
        **os.environ,
        "APP_ENV": "test",
        "APP_BASE_URL": app_url,
        "DATABASE_URL": f"sqlite:///{database}",
        "SHOPIFY_SHOP_BASE_URL": f"{urls['shopify']}/shops/{{shop}}",
        "SHOPIFY_SANDBOX_URL": f"{urls['shopify']}/",
        "CRM_BASE_URL": urls["crm"],
        "TEMPLATES_BASE_URL": urls["templates"],
        "SECRET_KEY": "e2e-stripe-secret-key-with-enough-length-0123",
        "BILLING_PROVIDER": "stripe",
        "STRIPE_API_BASE": urls["stripe"],
        # What the launcher's Stripe sandbox accepts and signs its webhooks with.
        "STRIPE_API_KEY": "sk_test_sandbox",
        "STRIPE_WEBHOOK_SECRET": "whsec_sandbox",
    }
    started = []
    try:
        sandbox_args = [arg for name in names for arg in (f"--{name}", str(ports[name]))]
        sandboxes = start_process(
            [sys.executable, "-m", "sandbox.launcher", *sandbox_args, "--app-url", app_url],
            env,
            "stripe-journey-sandboxes.log",
        )
        started.append(sandboxes)
        app = start_process(
            [sys.executable, "-m", "onboarding", "serve", "--port", str(ports["app"])],
            env,
            "stripe-journey-app.log",
        )
        started.append(app)
        for name in names:
            wait_until_healthy(f"{urls[name]}/healthz", sandboxes[0], sandboxes[1])
        wait_until_healthy(f"{app_url}/healthz", app[0], app[1])
        live = LiveStack(
            env=env,
            app_url=app_url,
            shopify_url=urls["shopify"],
            crm_url=urls["crm"],
            templates_url=urls["templates"],
        )
        yield StripeLiveStack(live, urls["stripe"])
    finally:
        for process, _, log_file in started:
            stop_process(process, log_file)


def admin_creates_growth(page: Page) -> None:
    page.get_by_role("button", name="New plan").click()
    page.get_by_label("Code").fill("growth")
    page.get_by_label("Name").fill("Growth")
    page.get_by_label("Price").fill("49.00")
    page.get_by_label("Trial days").fill("0")
    page.get_by_label("Live funnels").fill("20")
    page.get_by_label("Upsells per funnel").fill("4")
    page.get_by_label("Synced orders a month").fill("20000")
    page.get_by_role("button", name="Save plan").click()
    # The seeded Scale plan costs 49.00 too: the Growth row's price.
    expect(
        page.get_by_role("row", name=re.compile("Growth")).get_by_text("49.00 USD / month")
    ).to_be_visible()


def admin_changes_growth_price(page: Page, price: str) -> None:
    page.get_by_role("link", name="Plans").click()
    page.get_by_role("row", name="Growth").get_by_role("link", name="Edit").click()
    page.get_by_label("Price").fill(price)
    page.get_by_role("button", name="Save plan").click()
    expect(page.get_by_text(f"{price} USD / month")).to_be_visible()


def open_until_visible(page: Page, url: str, text: str, within: float = 20.0) -> None:
    """The worker applies webhooks in the background: open the page (with a deadline) until it shows."""
    deadline = time.monotonic() + within
    while True:
        page.goto(url)
        if page.get_by_text(text).first.is_visible():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} did not appear on {page.url} within {within}s")
        time.sleep(0.2)  # polling a background process with a deadline, not waiting blind


def stripe_subscriptions(stack: StripeLiveStack) -> list[dict[str, object]]:
    response = httpx.get(f"{stack.stripe_url}/_sandbox/objects", params={"type": "subscription"}, timeout=5)
    data: list[dict[str, object]] = response.json()["data"]
    return data


def test_merchant_subscribes_with_stripe_keeps_the_price_and_sees_a_failed_payment(
    browser: Browser, stripe_live_stack: StripeLiveStack, screenshots: Screenshots
) -> None:
    admin = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    merchant = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    for page in (admin, merchant):
        page.context.set_default_timeout(10_000)
    try:
        sign_in_as_admin(admin, stripe_live_stack.live, ADMIN_EMAIL)
        admin_creates_growth(admin)

        install(merchant, stripe_live_stack.live, SHOP)
        merchant.get_by_role("link", name="Billing").click()
        expect(merchant.get_by_role("heading", name="Your plan: Free (shared CRM)")).to_be_visible()
        expect(merchant.get_by_text("You pay by card on Stripe’s secure checkout page")).to_be_visible()
        screenshots.take(merchant, "1-billing-free")
        merchant.get_by_role("button", name="Choose Growth").click()

        # Stripe's hosted checkout page (the sandbox's).
        expect(merchant).to_have_url(
            re.compile(re.escape(stripe_live_stack.stripe_url) + r"/checkout/cs_test_")
        )
        expect(merchant.get_by_role("heading", name="Subscribe")).to_be_visible()
        expect(merchant.get_by_text("$49.00").first).to_be_visible()
        screenshots.take(merchant, "2-stripe-checkout")
        merchant.get_by_label("Card number").fill("4242 4242 4242 4242")
        merchant.get_by_role("button", name="Pay and subscribe").click()

        expect(merchant).to_have_url(re.compile(r"/billing/\?outcome=active$"))
        expect(merchant.get_by_text("Your new plan is active.")).to_be_visible()
        expect(merchant.get_by_role("heading", name="Your plan: Growth")).to_be_visible()
        expect(merchant.get_by_text("0 of 20", exact=True)).to_be_visible()
        expect(merchant.get_by_text("49.00 USD a month, billed by Stripe.")).to_be_visible()
        screenshots.take(merchant, "3-billing-growth")

        # The admin raises the price: new subscribers pay 59.00, this one keeps 49.00.
        admin_changes_growth_price(admin, "59.00")
        merchant.reload()
        expect(merchant.get_by_text("49.00 USD a month, billed by Stripe.")).to_be_visible()
        expect(merchant.get_by_text("59.00 USD / month")).to_be_visible()
        expect(merchant.get_by_text("You keep the price you signed up with.")).to_be_visible()
        [subscription] = stripe_subscriptions(stripe_live_stack)
        item = subscription["items"]["data"][0]  # type: ignore[index]
        assert item["price"]["unit_amount"] == 4900
        screenshots.take(merchant, "4-billing-after-price-change")

        # A month later the renewal fails: the banner says what to do, with the link.
        advanced = httpx.post(
            f"{stripe_live_stack.stripe_url}/_sandbox/clock/advance",
            json={"days": 31, "fail_payments": 1},
            timeout=10,
        )
        assert advanced.json()["failed"] == 1, advanced.text
        open_until_visible(merchant, stripe_live_stack.live.app_url + "/billing/", "Your last payment failed")
        # The failed invoice and the subscription's new state are separate events; both must land.
        open_until_visible(merchant, stripe_live_stack.live.app_url + "/billing/", "Payment overdue since")
        banner = merchant.get_by_role("alert")
        expect(banner).to_contain_text("We could not charge your card for your Growth plan")
        expect(banner.get_by_role("link", name="Update your payment method with Stripe")).to_be_visible()
        expect(merchant.get_by_text("Payment overdue since")).to_be_visible()
        assert serious_accessibility_violations(merchant) == []
        screenshots.take(merchant, "5-billing-payment-failed")

        merchant.get_by_role("link", name="Dashboard").first.click()
        expect(merchant.get_by_role("heading", name="Your last payment failed")).to_be_visible()
        screenshots.take(merchant, "6-dashboard-payment-failed")
        merchant.get_by_role("link", name="Update your payment method with Stripe").click()
        expect(merchant).to_have_url(re.compile(re.escape(stripe_live_stack.stripe_url) + r"/portal/bps_"))
        expect(merchant.get_by_role("heading", name="Your subscriptions")).to_be_visible()
        expect(merchant.get_by_text("status: past_due")).to_be_visible()
        screenshots.take(merchant, "7-stripe-portal")
    finally:
        admin.context.close()
        merchant.context.close()
