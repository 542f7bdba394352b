"""What the browser tests share besides fixtures: the live stack they drive, Chromium, screenshots."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.environment import ARTIFACTS_DIR, PROJECT_DIR
from tests.support.processes import free_port, start_process, stop_process, wait_until_healthy

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


@contextmanager
def running_live_stack(sqlite_template: Path, workdir: Path) -> Iterator[LiveStack]:
    """The real server and sandboxes on free loopback ports, on a copy of the migrated database."""
    database = workdir / "app.sqlite3"
    shutil.copyfile(sqlite_template, database)
    ports = {name: free_port() for name in ("app", "shopify", "crm", "templates")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    app_url, shopify_url = urls["app"], urls["shopify"]
    env = {
        **os.environ,
        "APP_ENV": "test",
        "APP_BASE_URL": app_url,
        "DATABASE_URL": f"sqlite:///{database}",
        "SHOPIFY_SHOP_BASE_URL": f"{shopify_url}/shops/{{shop}}",
        "SHOPIFY_SANDBOX_URL": f"{shopify_url}/",
        # The sandbox's store admin is opened on another host name than the app's (localhost, the
        # app on 127.0.0.1), as admin.shopify.com frames an app on its own domain: it frames the
        # app, and App Bridge's stand-in is served from its origin.
        "SHOPIFY_APP_BRIDGE_URL": f"{shopify_url.replace('127.0.0.1', 'localhost')}/cdn/app-bridge.js",
        "SHOPIFY_ADMIN_ORIGIN": shopify_url.replace("127.0.0.1", "localhost"),
        "CRM_BASE_URL": urls["crm"],
        "TEMPLATES_BASE_URL": urls["templates"],
        "SECRET_KEY": "e2e-secret-key-with-enough-length-0123456789",
    }
    started = []
    try:
        sandbox_args = [
            arg for name in ("shopify", "crm", "templates") for arg in (f"--{name}", str(ports[name]))
        ]
        sandbox = start_process(
            [sys.executable, "-m", "sandbox.launcher", *sandbox_args, "--app-url", app_url],
            env,
            "sandboxes.log",
        )
        started.append(sandbox)
        app = start_process(
            [sys.executable, "-m", "onboarding", "serve", "--port", str(ports["app"])], env, "app.log"
        )
        started.append(app)
        for name in ("shopify", "crm", "templates"):
            wait_until_healthy(f"{urls[name]}/healthz", sandbox[0], sandbox[1])
        wait_until_healthy(f"{app_url}/healthz", app[0], app[1])
        yield LiveStack(
            env=env,
            app_url=app_url,
            shopify_url=shopify_url,
            crm_url=urls["crm"],
            templates_url=urls["templates"],
        )
    finally:
        for process, _, log_file in started:
            stop_process(process, log_file)
