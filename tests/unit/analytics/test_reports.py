"""Ranges the merchant asks for, and the figures derived from totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from analytics.reports import BadRange, DateRange, Totals, parse_range

TODAY = date(2026, 12, 8)


def test_named_ranges_end_today_and_compare_with_as_many_days_before() -> None:
    week = parse_range("7d", None, None, TODAY)
    assert (week.start, week.end, week.days) == (date(2026, 12, 2), TODAY, 7)
    assert week.previous() == DateRange(date(2026, 11, 25), date(2026, 12, 1), "7d")
    assert parse_range("today", None, None, TODAY).days == 1
    assert parse_range(None, None, None, TODAY).days == 30


@pytest.mark.parametrize(
    ("choice", "start", "end", "message"),
    [
        ("custom", "2026-12-05", "2026-12-01", "The end date is before the start date."),
        ("custom", "2026-12-01", "2026-12-09", "The range is in the future"),
        ("custom", "2026-12-01", None, "needs both a start and an end date"),
        ("custom", "yesterday", "2026-12-01", "The start date must be a date"),
        ("forever", None, None, "Choose today, the last 7, 30 or 90 days"),
        ("custom", "2020-01-01", "2026-12-01", "two years at most"),
    ],
)
def test_a_range_that_cannot_be_shown_says_why(
    choice: str, start: str | None, end: str | None, message: str
) -> None:
    with pytest.raises(BadRange, match=message):
        parse_range(choice, start, end, TODAY)


def test_rates_and_averages_come_from_the_totals_and_none_without_a_base() -> None:
    totals = Totals(visits=200, page_views=260, orders=10, revenue_cents=52_500)
    assert totals.conversion == Decimal("0.05")
    assert totals.aov_cents == Decimal(5250)
    assert totals.revenue_per_visit_cents == Decimal("262.5")
    empty = Totals()
    assert (empty.conversion, empty.aov_cents, empty.revenue_per_visit_cents) == (None, None, None)
    assert totals + empty == totals
