"""Analytics: the beacon's intake rate beside a hello-world route of the same run, and the
analytics pages' server time over 1,000 funnels x 365 days of rollups.

The intake is loaded as the webhook ingest benchmark loads the webhook intake (its module
says why): `python -m onboarding serve` and a bare Litestar hello-world, each in a uvicorn
process of its own, over keep-alive HTTP/1.1 connections from a lean client that writes
prepared requests. Each beacon is a page view of a new visitor (one INSERT each), signed for a
live funnel. The pages are timed in-process (as tests/bench/test_bench_pages.py does) after the
rollups are written straight to the tables: a year of days for each of a shop's 1,000 funnels,
with two offer rows a day each, and the shop's daily rollup summed from them.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlencode

import httpx
import pytest
from piccolo.engine.sqlite import SQLiteEngine

from analytics.beacon import beacon_key, sign_token
from analytics.tables import FunnelDay, OfferDay, ShopDay, TrafficEvent
from funnels.tables import Funnel, FunnelStatus, PublishStep
from iam.tables import Shop
from lib.clock import utcnow
from tests.bench.support import BenchReport, percentile
from tests.support.processes import free_port, start_process, stop_process, wait_until_healthy
from tests.support.shops import SHOP, sign_in

SECRET = "bench-secret-key-with-enough-length-0123456789"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
BEACONS_PER_ROUND = 3000
ROUNDS = 3
CONCURRENCY = 64
FUNNELS = 1000
DAYS = 365
PAGE_REQUESTS = 60


@pytest.fixture
def servers(database_url: str) -> Iterator[tuple[int, int, str]]:
    ports = {"hello": free_port(), "app": free_port()}
    env = {
        **os.environ,
        "APP_ENV": "test",
        "APP_BASE_URL": f"http://127.0.0.1:{ports['app']}",
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET,
        "RUN_WORKER": "false",
    }
    hello = [sys.executable, "-m", "uvicorn", "--factory", "tests.bench.hello_world:hello_world_app"]
    started = [
        start_process(
            [*hello, "--no-access-log", "--port", str(ports["hello"])], env, "bench-beacon-hello.log"
        ),
        start_process(
            [sys.executable, "-m", "onboarding", "serve", "--port", str(ports["app"])],
            env,
            "bench-beacon-app.log",
        ),
    ]
    try:
        wait_until_healthy(f"http://127.0.0.1:{ports['hello']}/hello", *started[0][:2])
        wait_until_healthy(f"http://127.0.0.1:{ports['app']}/healthz", *started[1][:2])
        yield ports["hello"], ports["app"], database_url
    finally:
        for process, _, log in started:
            stop_process(process, log)


def beacon_requests(token: str, run: str, count: int) -> list[bytes]:
    return [
        (
            f"GET /beacon?{urlencode({'t': token, 'k': 'page_view', 'v': f'{run}visitor{n:07d}'})}"
            " HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nUser-Agent: {BROWSER}\r\n\r\n"
        ).encode()
        for n in range(count)
    ]


async def requests_per_second(port: int, requests: list[bytes], concurrency: int) -> float:
    """Sends the requests over `concurrency` keep-alive connections, each waiting for its answer."""
    pending = iter(requests)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in pending:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200 "), head
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
        finally:
            writer.close()
            await writer.wait_closed()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return len(requests) / (time.perf_counter() - started)


@pytest.mark.postgres
async def test_beacon_intake_rate_against_hello_world(
    servers: tuple[int, int, str],
    client: object,  # binds the tables to this test's database
    bench_report: BenchReport,
    engine_name: str,
) -> None:
    hello_port, app_port, _ = servers
    rows = await Funnel.insert(Funnel(shop_domain=SHOP, name="Bench", status=FunnelStatus.LIVE)).returning(
        Funnel.id
    )
    token = sign_token(beacon_key("", SECRET), SHOP, rows[0]["id"])
    hello = [b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"]
    await requests_per_second(hello_port, hello * 1000, CONCURRENCY)  # warm-up
    await requests_per_second(app_port, beacon_requests(token, "warm", 500), CONCURRENCY)
    hello_rates, beacon_rates, ratios = [], [], []
    for round_number in range(ROUNDS):
        hello_rate = await requests_per_second(hello_port, hello * BEACONS_PER_ROUND, CONCURRENCY)
        beacons = beacon_requests(token, f"r{round_number}", BEACONS_PER_ROUND)
        beacon_rate = await requests_per_second(app_port, beacons, CONCURRENCY)
        hello_rates.append(hello_rate)
        beacon_rates.append(beacon_rate)
        ratios.append(beacon_rate / hello_rate)
    label = f"{engine_name}, {CONCURRENCY} in flight"
    bench_report.add(f"hello-world [{label}]", statistics.median(hello_rates), "req/s", "-", True)
    bench_report.add(f"beacon intake [{label}]", statistics.median(beacon_rates), "req/s", "-", True)
    bench_report.add(f"beacon intake / hello-world [{label}]", statistics.median(ratios), "ratio", "-", True)
    assert await TrafficEvent.count() == 500 + ROUNDS * BEACONS_PER_ROUND


async def year_of_rollups() -> int:
    """The shop's 1,000 live funnels with a year of rollups each; the first funnel's id."""
    await Shop.insert(Shop(domain=SHOP, access_token="bench"))
    funnel_ids = [
        row["id"]
        for row in await Funnel.insert(
            *(
                Funnel(shop_domain=SHOP, name=f"Funnel {n}", currency="USD", status=FunnelStatus.LIVE)
                for n in range(FUNNELS)
            )
        ).returning(Funnel.id)
    ]
    first: int = funnel_ids[0]
    await PublishStep.insert(
        PublishStep(funnel=first, name="products", result={"products": {"": "prd_main"}}),
        PublishStep(funnel=first, name="offers", result={"offers": {f"funnel:{first}:main": "off_main"}}),
    )
    # Written by the database itself (a recursive series of days across the funnels): a
    # million rows through the ORM would take this machine minutes.
    today = utcnow().date()
    sqlite = isinstance(FunnelDay._meta.db, SQLiteEngine)
    day = "date({}, '-' || d.n || ' days')" if sqlite else "(CAST({} AS date) - d.n)"
    # Only constants of this module go into the statements' text; values are parameters.
    series = f"WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < {DAYS - 1})"  # noqa: S608
    n = "(f.id + d.n)"
    start = today.isoformat() if sqlite else today
    await FunnelDay.raw(
        "INSERT INTO funnel_day (shop_domain, funnel_id, day, variant, rollup_key, visits, page_views,"  # noqa: S608
        f" orders, revenue_cents) {series} SELECT {{}}, f.id, {day}, '', f.id || ':' || d.n,"
        f" 50 + {n} % 40, 60 + {n} % 50, {n} % 7, ({n} % 7) * 4599"
        " FROM funnel f CROSS JOIN d WHERE f.shop_domain = {}",
        SHOP,
        start,
        SHOP,
    )
    # The shop's daily rollup, as the rollup job keeps it: the sum of its funnels' days.
    await ShopDay.raw(
        "INSERT INTO shop_day (shop_domain, day, rollup_key, visits, page_views, orders, revenue_cents)"
        " SELECT shop_domain, day, shop_domain || ':' || CAST(day AS TEXT), SUM(visits), SUM(page_views),"
        " SUM(orders), SUM(revenue_cents) FROM funnel_day WHERE shop_domain = {} GROUP BY shop_domain, day",
        SHOP,
    )
    for offer, product, counts in (
        ("off_main", "", f"50 + {n} % 40, {n} % 7, 0, 0"),
        ("", "prd_main", f"0, 0, {n} % 7, ({n} % 7) * 4599"),
    ):
        await OfferDay.raw(
            "INSERT INTO offer_day (shop_domain, funnel_id, day, variant, offer, product, rollup_key,"  # noqa: S608
            f" views, accepts, orders, revenue_cents, declines) {series}"
            f" SELECT {{}}, f.id, {day}, '', {{}}, {{}}, f.id || ':' || d.n || {{}}, {counts}, 0"
            " FROM funnel f CROSS JOIN d WHERE f.shop_domain = {}",
            SHOP,
            start,
            offer,
            product,
            f":{offer}:{product}",
            SHOP,
        )
    if not sqlite:
        # Rows loaded in bulk: give the planner the statistics and visibility map that
        # autovacuum gives a table grown by the rollup job (index-only scans need the latter).
        for table in ("funnel_day", "shop_day", "offer_day"):
            await FunnelDay.raw(f"VACUUM ANALYZE {table}")
    return first


@pytest.mark.postgres
async def test_analytics_pages_over_a_year_of_1000_funnels(
    client: httpx.AsyncClient, bench_report: BenchReport, engine_name: str
) -> None:
    started = time.perf_counter()
    first = await year_of_rollups()
    setup = time.perf_counter() - started
    assert await FunnelDay.count() == FUNNELS * DAYS
    await sign_in(client, SHOP)
    today = utcnow().date()
    year_ago = today - timedelta(days=DAYS - 1)
    pages = {
        "funnel page, 30 days": f"/funnels/{first}/analytics/?range=30d",
        "funnel page, 365 days": f"/funnels/{first}/analytics/?range=custom&start={year_ago}&end={today}",
        "shop overview, 30 days": "/analytics/?range=30d",
        "shop overview, 90 days": "/analytics/?range=90d",
    }
    for name, path in pages.items():
        for _ in range(5):  # warm caches, template compilation and the pool
            assert (await client.get(path)).status_code == 200
        samples = []
        for _ in range(PAGE_REQUESTS):
            began = time.perf_counter()
            response = await client.get(path)
            samples.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200
        p95 = percentile(samples, 0.95)
        bench_report.add(f"analytics {name} p50 [{engine_name}]", percentile(samples, 0.5), "ms", "-", True)
        bench_report.add(f"analytics {name} p95 [{engine_name}]", p95, "ms", "< 100 ms", p95 < 100)
    bench_report.add(
        f"analytics rollups written ({FUNNELS * DAYS * 3} rows) [{engine_name}]", setup, "s", "-", True
    )
