"""What the browser tests share besides fixtures: the live stack they drive, Chromium, screenshots."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.environment import ARTIFACTS_DIR, PROJECT_DIR

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
SCREENSHOTS_DIR = ARTIFACTS_DIR / "screenshots"


@dataclass(frozen=True)
class LiveStack:
    env: dict[str, str]
    app_url: str
    shopify_url: str
    crm_url: str
    templates_url: str


class Screenshots:
    def __init__(self, test_name: str) -> None:
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name)

    def take(self, page: Page, label: str) -> Path:
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS_DIR / f"{self.prefix}--{label}.png"
        # caret="initial": Playwright's default hides the caret with an injected style, which our
        # CSP refuses, and htmx then copies that style into its next swap (a console error).
        page.screenshot(path=str(path), full_page=True, caret="initial")
        return path


ADMIN_PASSWORD = "correct-horse-battery"


def sign_in_as_admin(page: Page, stack: LiveStack, email: str) -> None:
    """An operator creates an admin with the CLI (or finds it made already) and signs in."""
    created = subprocess.run(
        [sys.executable, "-m", "onboarding", "create-admin", "--email", email],
        cwd=PROJECT_DIR,
        env={**stack.env, "ADMIN_PASSWORD": ADMIN_PASSWORD},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0 or "exists" in created.stderr, created.stderr
    page.goto(stack.app_url + "/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Plans")).to_be_visible()
