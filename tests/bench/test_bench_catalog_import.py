"""Catalog import of 10,000 variants through a bulk operation: time and the worker's memory.

Real processes on loopback: the sandboxes, the app (serving the JWKS the CRM checks) and
one `python -m onboarding worker` whose resident memory is sampled while it streams the
bulk JSONL into the CRM. The target is memory that stays flat: under 150 MB above the
idle worker's.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from onboarding.app import create_app
from onboarding.settings import Settings
from tests.bench.support import BenchReport
from tests.support.app import lifespan_of
from tests.support.processes import free_port, start_process, stop_process, wait_until_healthy
from tests.support.shops import install_shop

SHOP = "demo-store.myshopify.com"
PRODUCTS, VARIANTS_PER_PRODUCT = 2000, 5
DEADLINE_SECONDS = 600


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class MemorySampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, resident_mb(self.pid))
            self._stop.wait(0.05)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def processes(
    sqlite_template: Path, tmp_path: Path
) -> Iterator[tuple[dict[str, str], subprocess.Popen[bytes]]]:
    database = tmp_path / "app.sqlite3"
    shutil.copyfile(sqlite_template, database)
    ports = {name: free_port() for name in ("app", "shopify", "crm", "templates")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        **os.environ,
        "APP_ENV": "test",
        "APP_BASE_URL": urls["app"],
        "DATABASE_URL": f"sqlite:///{database}",
        "SHOPIFY_SHOP_BASE_URL": f"{urls['shopify']}/shops/{{shop}}",
        "CRM_BASE_URL": urls["crm"],
        "TEMPLATES_BASE_URL": urls["templates"],
        "SECRET_KEY": "bench-secret-key-with-enough-length-0123456789",
        "RUN_WORKER": "false",
    }
    sandbox_args = [
        arg for name in ("shopify", "crm", "templates") for arg in (f"--{name}", str(ports[name]))
    ]
    started = [
        start_process(
            [sys.executable, "-m", "sandbox.launcher", *sandbox_args, "--app-url", urls["app"]],
            env,
            "bench-sandboxes.log",
        ),
        start_process(
            [sys.executable, "-m", "onboarding", "serve", "--port", str(ports["app"])], env, "bench-app.log"
        ),
        start_process([sys.executable, "-m", "onboarding", "worker"], env, "bench-worker.log"),
    ]
    try:
        for name in ("shopify", "crm", "templates"):
            wait_until_healthy(f"{urls[name]}/healthz", started[0][0], started[0][1])
        wait_until_healthy(f"{urls['app']}/healthz", started[1][0], started[1][1])
        yield env, started[2][0]
    finally:
        for process, _, log in started:
            stop_process(process, log)


async def crm_product_count(crm: httpx.AsyncClient) -> int:
    return len((await crm.get("/_sandbox/products")).json()["data"])


@pytest.mark.timeout(900)
def test_bulk_import_of_ten_thousand_variants(
    processes: tuple[dict[str, str], subprocess.Popen[bytes]], bench_report: BenchReport
) -> None:
    env, worker = processes
    settings = Settings.model_validate(
        {key.lower(): value for key, value in env.items() if key.lower() in Settings.model_fields}
    )

    async def run() -> tuple[float, int, int]:
        async with (
            httpx.AsyncClient(base_url=env["SHOPIFY_SHOP_BASE_URL"].split("/shops/")[0]) as shopify,
            httpx.AsyncClient(base_url=env["CRM_BASE_URL"]) as crm,
        ):
            generated = await shopify.post(
                f"/_sandbox/shops/{SHOP}/catalog/generate",
                json={"products": PRODUCTS, "variants_per_product": VARIANTS_PER_PRODUCT},
                timeout=120,
            )
            assert generated.status_code == 201, generated.text
            expected = int((await shopify.get(f"/_sandbox/shops/{SHOP}")).json()["variantCount"])
            token = (await shopify.post(f"/_sandbox/shops/{SHOP}/tokens")).json()["access_token"]
            app = create_app(settings.model_copy(update={"run_worker": False}))
            async with lifespan_of(app):
                started = time.perf_counter()
                await install_shop(app, SHOP, access_token=token)  # the worker process takes it from here
            deadline = started + DEADLINE_SECONDS
            count = 0
            while time.perf_counter() < deadline:
                count = await crm_product_count(crm)
                if count >= expected:
                    break
                await asyncio.sleep(0.5)
            return time.perf_counter() - started, count, expected

    time.sleep(2)  # let the idle worker settle before taking its baseline
    baseline = resident_mb(worker.pid)
    with MemorySampler(worker.pid) as sampler:
        seconds, imported, expected = asyncio.run(run())
    growth = sampler.peak - baseline

    assert imported == expected, f"{imported} of {expected} variants reached the CRM"
    bench_report.add("catalog import, 10,000+ variants (bulk)", seconds, "s", "-", True)
    bench_report.add("catalog import variants per second", imported / seconds, "variants/s", "-", True)
    bench_report.add("catalog import worker idle memory", baseline, "MB", "-", True)
    bench_report.add("catalog import worker memory growth", growth, "MB", "< 150 MB", growth < 150)
