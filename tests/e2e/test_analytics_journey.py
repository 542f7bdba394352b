"""A merchant reads a funnel's analytics after a month of simulated visitors and orders."""

from __future__ import annotations

import subprocess
import sys

from playwright.sync_api import Page, expect

from tests.e2e.journey import install, run_wizard, serious_accessibility_violations
from tests.e2e.support import LiveStack, Screenshots
from tests.support.environment import PROJECT_DIR

SHOP = "demo-store.myshopify.com"


def test_analytics_of_a_funnel_with_simulated_history(
    page: Page, live_stack: LiveStack, screenshots: Screenshots
) -> None:
    install(page, live_stack, SHOP)
    run_wizard(page, live_stack, screenshots, subdomain="analytics-tees", js=True)
    # The shopper's browser on the live page reports the visit (pixel + script).
    page.goto(f"{live_stack.templates_url}/p/analytics-tees/")
    expect(page.locator("img.fs-beacon")).to_have_count(1)

    simulated = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox.simulate",
            "--templates",
            live_stack.templates_url,
            "--crm",
            live_stack.crm_url,
            "--visitors",
            "240",
            "--days",
            "30",
            "--conversion",
            "0.12",
            "--take-rate",
            "0.4",
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert simulated.returncode == 0, simulated.stderr

    page.goto(live_stack.app_url + "/app/")
    page.locator('a[href^="/funnels/"][href$="/analytics/"]').first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Analytics")
    # The orders reach the app through the CRM's webhooks and the worker; the rollup job runs
    # every 30 seconds: poll with a deadline.
    visits = page.locator(".kpi", has_text="Visits").locator(".kpi-value")
    for _ in range(90):
        if int(visits.inner_text()) >= 200:
            break
        page.wait_for_timeout(1000)
        page.reload()
    assert int(visits.inner_text()) >= 200
    expect(page.get_by_role("img", name="Revenue per day")).to_be_visible()
    expect(page.get_by_role("img", name="The funnel's steps")).to_be_visible()
    for width, label in ((1280, "analytics-funnel-1280"), (390, "analytics-funnel-390")):
        page.set_viewport_size({"width": width, "height": 900})
        screenshots.take(page, label)
        assert serious_accessibility_violations(page) == []

    # A range that ends before it starts: the reason, the input kept.
    page.locator("#range").select_option("custom")
    page.locator("#start").fill("2026-12-05")
    page.locator("#end").fill("2026-12-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("The end date is before the start date.").first).to_be_visible()
    screenshots.take(page, "analytics-bad-range-390")
    assert serious_accessibility_violations(page) == []

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_stack.app_url + "/analytics/?range=30d")
    expect(page.get_by_role("heading", name="Funnels")).to_be_visible()
    screenshots.take(page, "analytics-overview-1280")
    assert serious_accessibility_violations(page) == []
