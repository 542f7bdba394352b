"""Server-rendered charts: an accessible image, its texts escaped."""

from __future__ import annotations

from decimal import Decimal

from analytics.charts import Point, bar_chart, funnel_chart, line_chart


def test_charts_are_labelled_images_with_their_texts_escaped() -> None:
    points = [Point("1 Dec", Decimal(10)), Point("2 Dec", Decimal(0))]
    for chart in (
        bar_chart("c", "Revenue <per> day", "desc & more", points),
        line_chart("c", "Revenue <per> day", "desc & more", points),
        funnel_chart("c", "Revenue <per> day", "desc & more", [("Took <b>", 3), ("Visits", 9)]),
    ):
        assert 'role="img"' in chart
        assert 'aria-labelledby="c-title c-desc"' in chart
        assert "Revenue &lt;per&gt; day" in chart
        assert "desc &amp; more" in chart
        assert "<b>" not in chart


def test_a_day_without_revenue_draws_a_bar_of_no_height() -> None:
    chart = bar_chart("c", "t", "d", [Point("1 Dec", Decimal(0)), Point("2 Dec", Decimal(5))])
    assert 'height="0.0"' in chart
