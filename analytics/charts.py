"""Charts as server-rendered SVG: no script, no library, the page works without JavaScript.

Each chart is an image with a title and a description (`role="img"`, `aria-labelledby`); the
page puts a table of the same figures beside it for screen readers and exact numbers. Colours
and sizes come from CSS classes (the CSP allows no inline style)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 12, 12, 28


@dataclass(frozen=True)
class Point:
    label: str  # the x axis: a day ("2 Nov")
    value: Decimal


def _nice_max(value: Decimal) -> Decimal:
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = magnitude * Decimal(str(step))
        if top >= value:
            return top
    return value


def _frame(chart_id: str, title: str, description: str, body: str) -> Markup:
    # Every text in it went through html.escape; the rest is numbers and fixed markup.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>{body}</svg>'
    )


def _axes(top: Decimal, formatter: str) -> str:
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    parts = []
    for n in range(5):
        y = PAD_TOP + plot_h * n / 4
        value = top * (4 - n) / 4
        parts.append(
            f'<line class="chart-grid" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        label = formatter.format(value)
        parts.append(
            f'<text class="chart-axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
    return "".join(parts)


def _x_labels(points: Sequence[Point]) -> str:
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    every = max(1, len(points) // 6)
    parts = []
    for index, point in enumerate(points):
        if index % every:
            continue
        x = PAD_LEFT + plot_w * (index + 0.5) / len(points)
        parts.append(
            f'<text class="chart-axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
            f"{escape(point.label)}</text>"
        )
    return "".join(parts)


def bar_chart(
    chart_id: str, title: str, description: str, points: Sequence[Point], axis_format: str = "{:.0f}"
) -> Markup:
    """Vertical bars over time (revenue per day)."""
    if not points:
        return _frame(chart_id, title, description, "")
    top = _nice_max(max(point.value for point in points))
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / len(points)
    bars = []
    for index, point in enumerate(points):
        h = float(point.value / top) * plot_h
        x = PAD_LEFT + slot * index + slot * 0.15
        bars.append(
            f'<rect class="chart-bar" x="{x:.1f}" y="{PAD_TOP + plot_h - h:.1f}" '
            f'width="{max(slot * 0.7, 0.5):.1f}" height="{h:.1f}"/>'
        )
    return _frame(chart_id, title, description, _axes(top, axis_format) + "".join(bars) + _x_labels(points))


def line_chart(
    chart_id: str, title: str, description: str, points: Sequence[Point], axis_format: str = "{:.0f}"
) -> Markup:
    """A line over time (conversion per day)."""
    if not points:
        return _frame(chart_id, title, description, "")
    top = _nice_max(max(point.value for point in points))
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    coords = [
        (
            PAD_LEFT + plot_w * (index + 0.5) / len(points),
            PAD_TOP + plot_h - float(point.value / top) * plot_h,
        )
        for index, point in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = (
        "".join(f'<circle class="chart-dot" cx="{x:.1f}" cy="{y:.1f}" r="2.5"/>' for x, y in coords)
        if len(coords) <= 31
        else ""
    )
    return _frame(
        chart_id,
        title,
        description,
        _axes(top, axis_format)
        + f'<polyline class="chart-line" points="{path}"/>'
        + dots
        + _x_labels(points),
    )


def funnel_chart(chart_id: str, title: str, description: str, steps: Sequence[tuple[str, int]]) -> Markup:
    """The funnel's steps as centred bars narrowing from visits to orders and offers taken."""
    if not steps:
        return _frame(chart_id, title, description, "")
    top = max(max(value for _, value in steps), 1)
    row_h = 34
    height = row_h * len(steps) + 8
    label_w = 200
    plot_w = WIDTH - label_w - 70
    parts = []
    for index, (label, value) in enumerate(steps):
        w = max(plot_w * value / top, 1)
        x = label_w + (plot_w - w) / 2
        y = 4 + index * row_h
        parts.append(
            f'<text class="chart-label" x="{label_w - 8}" y="{y + 20}" text-anchor="end">'
            f"{escape(label[:32])}</text>"
        )
        parts.append(
            f'<rect class="chart-bar chart-step" x="{x:.1f}" y="{y}" width="{w:.1f}" '
            f'height="{row_h - 8}" rx="3"/>'
        )
        parts.append(f'<text class="chart-value" x="{label_w + plot_w + 8}" y="{y + 20}">{value}</text>')
    # Every text in it went through html.escape; the rest is numbers and fixed markup.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>{"".join(parts)}</svg>'
    )
