"""What the benchmarks share: the report every figure goes to, and percentiles."""

from __future__ import annotations

from dataclasses import dataclass


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


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
