"""Server time of the app's pages and probes, in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.bench.support import BenchReport, percentile

REQUESTS = 400


@pytest.mark.postgres
@pytest.mark.parametrize("path", ["/", "/readyz"])
async def test_page_server_time(
    client: httpx.AsyncClient, bench_report: BenchReport, path: str, engine_name: str
) -> None:
    for _ in range(20):  # warm caches, template compilation and the pool
        await client.get(path)
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = await client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    p95 = percentile(samples, 0.95)
    bench_report.add(f"{path} p50 [{engine_name}]", percentile(samples, 0.5), "ms", "-", True)
    bench_report.add(f"{path} p95 [{engine_name}]", p95, "ms", "< 50 ms", p95 < 50)
