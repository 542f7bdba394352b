"""Benchmarks print each figure beside its target; they never fail the build on timing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict

import pytest

from tests.bench.support import BenchReport
from tests.support.environment import ARTIFACTS_DIR


@pytest.fixture(scope="session")
def bench_report() -> Iterator[BenchReport]:
    report = BenchReport()
    yield report
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    (ARTIFACTS_DIR / "bench.json").write_text(json.dumps([asdict(f) for f in report.figures], indent=2))
    print("\n\nBenchmark summary")
    for figure in report.figures:
        mark = "ok  " if figure.meets_target else "MISS"
        print(f"  {mark} {figure.name}: {figure.value} {figure.unit} (target {figure.target})")
