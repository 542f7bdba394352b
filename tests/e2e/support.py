"""What the browser tests share besides fixtures: the live stack they drive, Chromium, screenshots."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page

from tests.support.environment import ARTIFACTS_DIR

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
        page.screenshot(path=str(path), full_page=True)
        return path
