"""Benchmarks print each figure beside its target; they never fail the build on timing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import pytest

from tests.conftest import ARTIFACTS_DIR


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: str
    meets_target: bool


class BenchReport:
    def __init__(self) -> None:
        self.figures: list[Figure] = []

    def add(self, name: str, value: float, unit: str, target: str, meets_target: bool) -> None:
        figure = Figure(name, round(value, 3), unit, target, meets_target)
        self.figures.append(figure)
        verdict = "meets target" if meets_target else "MISSES TARGET"
        print(f"\nBENCH {name}: {figure.value} {unit} (target {target}) {verdict}")


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


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
