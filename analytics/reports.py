"""What the analytics pages show, read from the rollups only (FunnelDay, ShopDay, OfferDay).

A range is whole UTC days, `start` to `end` inclusive, compared with the range of the same
length just before it. "Visits" are distinct visitors per day, summed over the days. Conversion
is orders per visit; revenue per visitor is revenue per visit. A split test's figures are the
same report with `variant` set: each variant's figures add up to the funnel's.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from piccolo.query.functions.aggregate import Sum

from analytics.offers import FunnelInfo, Offer
from analytics.tables import FunnelDay, OfferDay, ShopDay

RANGES = {"today": 1, "7d": 7, "30d": 30, "90d": 90}
RANGE_LABELS = {
    "today": "Today",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "custom": "Custom",
}
DEFAULT_RANGE = "30d"
MAX_RANGE_DAYS = 366 * 2


class BadRange(ValueError):
    """A range the merchant cannot ask for; the message says why, in their words."""


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date  # inclusive
    choice: str = "custom"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> DateRange:
        end = self.start - timedelta(days=1)
        return DateRange(end - timedelta(days=self.days - 1), end, self.choice)

    def each_day(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise BadRange(f"The {what} date must be a date like 2026-12-01.") from exc


def parse_range(choice: str | None, start: str | None, end: str | None, today: date) -> DateRange:
    """The range the merchant asked for: a named one ending today, or custom dates."""
    choice = choice or (DEFAULT_RANGE if not (start or end) else "custom")
    if choice in RANGES:
        return DateRange(today - timedelta(days=RANGES[choice] - 1), today, choice)
    if choice != "custom":
        raise BadRange("Choose today, the last 7, 30 or 90 days, or custom dates.")
    if not start or not end:
        raise BadRange("A custom range needs both a start and an end date.")
    first, last = _day(start, "start"), _day(end, "end")
    if last < first:
        raise BadRange("The end date is before the start date.")
    if first > today or last > today:
        raise BadRange("The range is in the future: analytics count up to today.")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise BadRange("A range is two years at most.")
    return DateRange(first, last, "custom")


@dataclass(frozen=True)
class Totals:
    visits: int = 0
    page_views: int = 0
    orders: int = 0
    revenue_cents: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.visits + other.visits,
            self.page_views + other.page_views,
            self.orders + other.orders,
            self.revenue_cents + other.revenue_cents,
        )

    @property
    def conversion(self) -> Decimal | None:
        """Orders per visit, as a fraction; None without visits."""
        return Decimal(self.orders) / self.visits if self.visits else None

    @property
    def aov_cents(self) -> Decimal | None:
        return Decimal(self.revenue_cents) / self.orders if self.orders else None

    @property
    def revenue_per_visit_cents(self) -> Decimal | None:
        return Decimal(self.revenue_cents) / self.visits if self.visits else None


@dataclass(frozen=True)
class DayPoint:
    day: date
    totals: Totals


@dataclass(frozen=True)
class OfferFigures:
    offer: Offer
    views: int
    accepts: int
    declines: int
    orders: int  # counted orders holding the offer's product
    revenue_cents: int

    def take_rate(self, funnel_orders: int) -> Decimal | None:
        """Share of the funnel's orders that took this offer."""
        return Decimal(self.orders) / funnel_orders if funnel_orders else None

    @property
    def accept_rate(self) -> Decimal | None:
        """Accepts per view, as the page reported them."""
        return Decimal(self.accepts) / self.views if self.views else None


@dataclass(frozen=True)
class FunnelReport:
    funnel: FunnelInfo
    range: DateRange
    totals: Totals
    previous: Totals
    series: list[DayPoint]
    offers: list[OfferFigures]
    variant: str | None = None


@dataclass(frozen=True)
class OverviewRow:
    funnel: FunnelInfo
    totals: Totals


@dataclass(frozen=True)
class Overview:
    range: DateRange
    totals: Totals
    previous: Totals
    series: list[DayPoint]
    rows: list[OverviewRow] = field(default_factory=list)


def _totals(row: dict[str, Any]) -> Totals:
    return Totals(
        int(row["visits"] or 0),
        int(row["page_views"] or 0),
        int(row["orders"] or 0),
        int(row["revenue_cents"] or 0),
    )


SUMS = (
    Sum(FunnelDay.visits, alias="visits"),
    Sum(FunnelDay.page_views, alias="page_views"),
    Sum(FunnelDay.orders, alias="orders"),
    Sum(FunnelDay.revenue_cents, alias="revenue_cents"),
)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _in_range(rng: DateRange) -> Any:
    return (FunnelDay.day >= rng.start) & (FunnelDay.day <= rng.end)


async def _series(where: Any, rng: DateRange) -> list[DayPoint]:
    rows = await FunnelDay.select(FunnelDay.day, *SUMS).where(where & _in_range(rng)).group_by(FunnelDay.day)
    by_day = {_as_date(row["day"]): _totals(row) for row in rows}
    return [DayPoint(day, by_day.get(day, Totals())) for day in rng.each_day()]


async def _sum(where: Any, rng: DateRange) -> Totals:
    rows = await FunnelDay.select(*SUMS).where(where & _in_range(rng))
    return _totals(rows[0]) if rows else Totals()


def _funnel_where(shop_domain: str, funnel_id: int, variant: str | None) -> Any:
    where = (FunnelDay.shop_domain == shop_domain) & (FunnelDay.funnel_id == funnel_id)
    return where & (FunnelDay.variant == variant) if variant is not None else where


async def funnel_report(
    shop_domain: str, funnel: FunnelInfo, rng: DateRange, variant: str | None = None
) -> FunnelReport:
    """One funnel's figures over `rng` (one variant's with `variant`), with the previous period."""
    where = _funnel_where(shop_domain, funnel.funnel_id, variant)
    series = await _series(where, rng)
    totals = sum((point.totals for point in series), Totals())
    previous = await _sum(where, rng.previous())
    offer_where = (
        (OfferDay.shop_domain == shop_domain)
        & (OfferDay.funnel_id == funnel.funnel_id)
        & (OfferDay.day >= rng.start)
        & (OfferDay.day <= rng.end)
    )
    if variant is not None:
        offer_where = offer_where & (OfferDay.variant == variant)
    rows = (
        await OfferDay.select(
            OfferDay.offer,
            OfferDay.product,
            Sum(OfferDay.views, alias="views"),
            Sum(OfferDay.accepts, alias="accepts"),
            Sum(OfferDay.declines, alias="declines"),
            Sum(OfferDay.orders, alias="orders"),
            Sum(OfferDay.revenue_cents, alias="revenue_cents"),
        )
        .where(offer_where)
        .group_by(OfferDay.offer, OfferDay.product)
    )
    seen = {row["offer"]: row for row in rows if row["offer"]}
    bought = {row["product"]: row for row in rows if row["product"]}
    offers = []
    for offer in funnel.offers:
        views = seen.get(offer.offer_id) or {}
        sold = bought.get(offer.product_id) or {}
        offers.append(
            OfferFigures(
                offer,
                views=int(views.get("views") or 0),
                accepts=int(views.get("accepts") or 0),
                declines=int(views.get("declines") or 0),
                orders=int(sold.get("orders") or 0),
                revenue_cents=int(sold.get("revenue_cents") or 0),
            )
        )
    return FunnelReport(funnel, rng, totals, previous, series, offers, variant)


SHOP_DAY_FIGURES = (ShopDay.visits, ShopDay.page_views, ShopDay.orders, ShopDay.revenue_cents)


async def _shop_days(shop_domain: str, rng: DateRange) -> list[DayPoint]:
    """The shop's days of `rng`, one ShopDay row each (the sum of its funnels' that day)."""
    rows = await ShopDay.select(ShopDay.day, *SHOP_DAY_FIGURES).where(
        (ShopDay.shop_domain == shop_domain) & (ShopDay.day >= rng.start) & (ShopDay.day <= rng.end)
    )
    by_day = {_as_date(row["day"]): _totals(row) for row in rows}
    return [DayPoint(day, by_day.get(day, Totals())) for day in rng.each_day()]


async def shop_overview(shop_domain: str, funnels: list[FunnelInfo], rng: DateRange) -> Overview:
    """`funnels` (a page of the shop's funnels) side by side over `rng`, and the shop's totals.

    The totals, series and previous period are the whole shop's and read its daily rollup (a
    row a day); only the rows of `funnels` sum funnel days."""
    # Only the funnels asked for (a page of them) are summed: by the funnel and day index.
    rows = (
        await FunnelDay.select(FunnelDay.funnel_id, *SUMS)
        .where(
            FunnelDay.funnel_id.is_in([funnel.funnel_id for funnel in funnels] or [-1])
            & (FunnelDay.shop_domain == shop_domain)
            & _in_range(rng)
        )
        .group_by(FunnelDay.funnel_id)
    )
    by_funnel = {row["funnel_id"]: _totals(row) for row in rows}
    series = await _shop_days(shop_domain, rng)
    previous = sum((point.totals for point in await _shop_days(shop_domain, rng.previous())), Totals())
    return Overview(
        range=rng,
        totals=sum((point.totals for point in series), Totals()),
        previous=previous,
        series=series,
        rows=[OverviewRow(funnel, by_funnel.get(funnel.funnel_id, Totals())) for funnel in funnels],
    )


def money(cents: int | Decimal | None) -> str:
    """Hundredths as a plain decimal amount ("1234.50"), for CSV and tables."""
    if cents is None:
        return ""
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def percent(fraction: Decimal | None) -> str:
    return "" if fraction is None else f"{(fraction * 100).quantize(Decimal('0.1'))}%"


def report_csv(report: FunnelReport) -> str:
    """The report as CSV: one row per day, then one per offer."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["day", "visits", "page_views", "orders", f"revenue_{report.funnel.currency}", "conversion"]
    )
    for point in report.series:
        t = point.totals
        writer.writerow(
            [
                point.day.isoformat(),
                t.visits,
                t.page_views,
                t.orders,
                money(t.revenue_cents),
                percent(t.conversion),
            ]
        )
    t = report.totals
    writer.writerow(
        ["total", t.visits, t.page_views, t.orders, money(t.revenue_cents), percent(t.conversion)]
    )
    writer.writerow([])
    writer.writerow(
        ["offer", "views", "accepts", "declines", "orders", f"revenue_{report.funnel.currency}", "take_rate"]
    )
    for figures in report.offers:
        writer.writerow(
            [
                figures.offer.label,
                figures.views,
                figures.accepts,
                figures.declines,
                figures.orders,
                money(figures.revenue_cents),
                percent(figures.take_rate(report.totals.orders)),
            ]
        )
    return out.getvalue()
