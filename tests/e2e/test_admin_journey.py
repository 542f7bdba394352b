"""An operator creates an admin with the CLI, signs in and manages plans in the browser."""

from __future__ import annotations

import subprocess
import sys

from playwright.sync_api import Page, expect

from tests.e2e.support import LiveStack, Screenshots
from tests.support.environment import PROJECT_DIR


def test_admin_signs_in_creates_a_plan_and_changes_its_price(
    page: Page, live_stack: LiveStack, screenshots: Screenshots
) -> None:
    created = subprocess.run(
        [sys.executable, "-m", "onboarding", "create-admin", "--email", "ops@example.com"],
        cwd=PROJECT_DIR,
        env={**live_stack.env, "ADMIN_PASSWORD": "correct-horse-battery"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr

    page.goto(live_stack.app_url + "/admin/plans")
    expect(page.get_by_role("heading", name="Admin sign-in")).to_be_visible()
    page.get_by_label("Email").fill("ops@example.com")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Plans")).to_be_visible()
    expect(page.get_by_text("Free (shared CRM)")).to_be_visible()

    page.get_by_role("button", name="New plan").click()
    page.get_by_label("Code").fill("pro-monthly")
    page.get_by_label("Name").fill("Pro")
    page.get_by_label("Price").fill("-3")
    page.get_by_role("button", name="Save plan").click()
    expect(page.get_by_role("link", name="Enter a price between 0")).to_be_visible()
    screenshots.take(page, "plan-error")
    page.get_by_label("Price").fill("29.00")
    page.get_by_label("Live funnels").fill("10")
    page.get_by_label("Upsells per funnel").fill("5")
    page.get_by_label("Synced orders a month").fill("5000")
    page.get_by_role("button", name="Save plan").click()
    expect(page.get_by_text("29.00 USD / month")).to_be_visible()
    screenshots.take(page, "plans")

    page.get_by_role("row", name="Pro").get_by_role("link", name="Edit").click()
    page.get_by_label("Price").fill("39.00")
    page.get_by_role("button", name="Save plan").click()
    expect(page.get_by_text("39.00 USD / month")).to_be_visible()
    page.get_by_role("row", name="Pro").get_by_role("link", name="Edit").click()
    expect(page.get_by_text("existing subscribers only")).to_be_visible()
    screenshots.take(page, "price-history")
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_text("plan.update").first).to_be_visible()
    screenshots.take(page, "audit")
