"""Server time per wizard page with 1,000 funnels in the database (target: p95 under 25 ms on
SQLite, 50 ms on PostgreSQL).

The app runs in-process with the sandboxes behind ASGI transports, so the figures include
the calls a page makes to Shopify, the CRM or the template service, minus network time.
"""

from __future__ import annotations

import time

import pytest

from funnels.tables import Funnel
from tests.bench.support import BenchReport, percentile
from tests.support.funnel_wizard import complete_wizard
from tests.support.shops import SHOP, install_shop, sign_in
from tests.support.stack import running_stack

FUNNELS = 1000
REQUESTS_PER_PAGE = 60
# SQLite keeps its connections open while the app runs (onboarding/database.py), so its pages
# aim lower than a connection per query allowed.
TARGET_P95_MS = {"sqlite": 25, "postgres": 50}
PAGES = ("campaign", "product", "upsells", "template", "hosting", "review")


@pytest.mark.postgres
async def test_wizard_page_server_time(
    database_url: str, engine_name: str, bench_report: BenchReport
) -> None:
    async with running_stack(database_url) as stack:
        # Measured: the app's own time, so the shop's query budget must not be the limit here
        # (a Standard shop runs out after ~10 catalogue searches in a burst).
        await stack.shopify.put(f"/_sandbox/shops/{SHOP}/plan", json={"tier": "enterprise"})
        minted = await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")
        await install_shop(stack.app, SHOP, access_token=minted.json()["access_token"])
        await stack.drain()
        await sign_in(stack.client, SHOP)
        funnel_id = await complete_wizard(stack)
        await Funnel.insert(
            *(
                Funnel(shop_domain=f"shop-{index % 50}.myshopify.com", name=f"Funnel {index}")
                for index in range(FUNNELS)
            )
        )
        for page in (*PAGES, "dashboard"):
            path = "/app/" if page == "dashboard" else f"/funnels/{funnel_id}/{page}"
            for _ in range(5):
                await stack.client.get(path)
            samples = []
            for _ in range(REQUESTS_PER_PAGE):
                started = time.perf_counter()
                response = await stack.client.get(path)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            p95 = percentile(samples, 0.95)
            bench_report.add(f"wizard {page} p50 [{engine_name}]", percentile(samples, 0.5), "ms", "-", True)
            target = TARGET_P95_MS[engine_name]
            bench_report.add(f"wizard {page} p95 [{engine_name}]", p95, "ms", f"< {target} ms", p95 < target)
