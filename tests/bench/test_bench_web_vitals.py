"""Web Vitals of the merchant's pages in Chromium: LCP, CLS and INP of the dashboard and a wizard
step, inside the sandbox admin's iframe and standalone, beside Built for Shopify's targets
(LCP <= 2.5 s, CLS <= 0.1, INP <= 200 ms, at the 75th percentile). Printed, never asserted.

Measured with PerformanceObserver in each document (an init script, so it observes from the
first byte). Inside the admin the LCP is counted from the admin page's navigation (the iframe's
own LCP plus the time the iframe started after it), which is what the merchant waits for;
standalone from the page's own navigation. INP: the longest interaction of a click and a few
key presses on the loaded page (with this few interactions Chrome's INP is the longest)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Frame, Page, expect, sync_playwright

from tests.bench.support import BenchReport, percentile
from tests.e2e.journey import install
from tests.e2e.support import CHROMIUM, CHROMIUM_FLAGS, LiveStack, running_live_stack
from tests.support.environment import require

LOADS = 5
LCP_TARGET_MS = 2500
CLS_TARGET = 0.1
INP_TARGET_MS = 200

OBSERVE_VITALS = """
(() => {
  const vitals = { lcp: 0, cls: 0, inp: 0, interactions: 0, timeOrigin: performance.timeOrigin };
  window.__vitals = vitals;
  const observe = (type, handle, extra) => {
    try {
      new PerformanceObserver((list) => list.getEntries().forEach(handle))
        .observe({ type, buffered: true, ...extra });
    } catch (error) { /* an entry type this Chromium lacks */ }
  };
  observe("largest-contentful-paint", (entry) => {
    vitals.lcp = entry.renderTime || entry.loadTime || entry.startTime;
  });
  observe("layout-shift", (entry) => { if (!entry.hadRecentInput) vitals.cls += entry.value; });
  observe("event", (entry) => {
    if (entry.interactionId) { vitals.inp = Math.max(vitals.inp, entry.duration); }
  }, { durationThreshold: 16 });
  observe("first-input", () => { vitals.interactions += 1; });
})();
"""
# Two animation frames: the event entries of what was just done have been delivered.
SETTLED = (
    "() => new Promise((done) =>"
    " requestAnimationFrame(() => requestAnimationFrame(() => done(window.__vitals))))"
)


@pytest.fixture(scope="module")
def live_stack(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with running_live_stack(sqlite_template, tmp_path_factory.mktemp("vitals")) as stack:
        yield stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM} (make browser installs Debian's chromium)"
        if require("REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


def interact(document: Frame | Page) -> dict[str, Any]:
    """A click and a few key presses, as a merchant starting on the page; then the figures."""
    document.wait_for_function("window.__vitals && window.__vitals.lcp > 0")
    document.locator("main h1").click()
    field = document.locator("main input[type=text]").first
    if field.count():
        field.click()
        field.press("End")
        field.press_sequentially("x")
        field.press("Backspace")
    else:
        document.locator("main h1").press("Tab")
    document.wait_for_function("window.__vitals.interactions > 0")
    vitals: dict[str, Any] = document.evaluate(SETTLED)
    return vitals


def measure(page: Page, url: str, *, embedded: bool) -> dict[str, float]:
    page.goto(url)
    if not embedded:
        expect(page.locator("main h1")).to_be_visible()
        vitals = interact(page)
        return {"lcp": vitals["lcp"], "cls": vitals["cls"], "inp": vitals["inp"]}
    expect(page.frame_locator("#app-frame").locator("main h1")).to_be_visible(timeout=30_000)
    handle = page.locator("#app-frame").element_handle()
    frame = handle.content_frame() if handle else None
    assert frame is not None
    vitals = interact(frame)
    admin_origin: float = page.evaluate("performance.timeOrigin")
    # The iframe's LCP on the admin's clock: from the admin page's navigation.
    lcp = vitals["timeOrigin"] - admin_origin + vitals["lcp"]
    return {"lcp": lcp, "cls": vitals["cls"], "inp": vitals["inp"]}


def report(bench_report: BenchReport, label: str, samples: list[dict[str, float]]) -> None:
    lcp = percentile([s["lcp"] for s in samples], 0.75)
    cls = percentile([s["cls"] for s in samples], 0.75)
    inp = percentile([s["inp"] for s in samples], 0.75)
    bench_report.add(f"LCP p75 {label}", lcp, "ms", f"< {LCP_TARGET_MS} ms", lcp < LCP_TARGET_MS)
    bench_report.add(f"CLS p75 {label}", cls, "", f"< {CLS_TARGET}", cls < CLS_TARGET)
    bench_report.add(f"INP p75 {label}", inp, "ms", f"< {INP_TARGET_MS} ms", inp < INP_TARGET_MS)


@pytest.mark.timeout(900)
def test_web_vitals_of_the_dashboard_and_a_wizard_step_embedded_and_standalone(
    live_stack: LiveStack, browser: Browser, bench_report: BenchReport
) -> None:
    # Embedded: installed from the listing in the sandbox admin (its own host name, as
    # admin.shopify.com frames the app), a draft funnel made there.
    embedded = browser.new_context(viewport={"width": 1280, "height": 860})
    embedded.add_init_script(OBSERVE_VITALS)
    page = embedded.new_page()
    admin = live_stack.shopify_url.replace("127.0.0.1", "localhost") + "/admin/store/demo-advanced"
    page.goto(f"{admin}/app-store/funnelsync")
    page.get_by_role("button", name="Install").click()
    app = page.frame_locator("#app-frame")
    app.get_by_role("button", name="Create a funnel").click(timeout=30_000)
    expect(app.get_by_role("heading", level=1)).to_have_text("Campaign information", timeout=30_000)
    expect(page).to_have_url(re.compile(r"/funnels/\d+/campaign$"))
    embedded_campaign = page.url
    embedded_pages = {"dashboard": f"{admin}/apps/funnelsync/app/", "campaign step": embedded_campaign}

    # Standalone: installed the authorization-code way, signed in by the session cookie.
    standalone = browser.new_context(viewport={"width": 1280, "height": 860})
    standalone.add_init_script(OBSERVE_VITALS)
    own = standalone.new_page()
    install(own, live_stack, "demo-plus.myshopify.com")
    own.get_by_role("button", name="Create a funnel").click()
    expect(own).to_have_url(re.compile(r"/funnels/\d+/campaign$"))
    standalone_pages = {"dashboard": f"{live_stack.app_url}/app/", "campaign step": own.url}

    for name, url in embedded_pages.items():
        measure(page, url, embedded=True)  # warm: templates compiled, assets cached as a merchant's would be
        samples = [measure(page, url, embedded=True) for _ in range(LOADS)]
        report(bench_report, f"{name} (embedded)", samples)
    for name, url in standalone_pages.items():
        measure(own, url, embedded=False)
        samples = [measure(own, url, embedded=False) for _ in range(LOADS)]
        report(bench_report, f"{name} (standalone)", samples)
    embedded.close()
    standalone.close()
