"""The analytics pages: one per funnel and the shop's overview, with a CSV export.

They read the rollups only (analytics.reports), handing analytics the funnel's name and offers
(funnels.analytics_scope). A range the merchant cannot ask for (in the future, ending before
it starts, not a date) is a 400 page saying why, with the inputs kept; another shop's or an
unknown funnel is the 404 page."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

from babel.numbers import format_currency
from litestar import Controller, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from analytics.charts import Point, bar_chart, funnel_chart, line_chart
from analytics.offers import FunnelInfo
from analytics.reports import (
    RANGE_LABELS,
    BadRange,
    DateRange,
    FunnelReport,
    Totals,
    funnel_report,
    parse_range,
    percent,
    report_csv,
    shop_overview,
)
from funnels.analytics_scope import funnels_of_shop
from iam.controllers import ShopDomain, current_shop
from lib.clock import utcnow

# The form's field is `range`; the name is a builtin in Python.
RangeChoice = Annotated[str | None, QueryParameter(name="range")]
FUNNELS_PER_PAGE = 50


@lru_cache(maxsize=64)
def _currency_pattern(currency: str) -> tuple[str, str] | None:
    """What goes before and after the amount for `currency` (Babel's, taken once: formatting
    a thousand table cells through Babel each time costs more than the page's queries)."""
    sample = str(format_currency(Decimal("1234.56"), currency or "USD", locale="en_US"))
    before, found, after = sample.partition("1,234.56")
    return (before, after) if found else None  # not written with two decimals (JPY): Babel each time


def money(cents: int | Decimal | None, currency: str) -> str:
    if cents is None:
        return "–"
    pattern = _currency_pattern(currency)
    if pattern is None:
        return str(format_currency(Decimal(cents) / 100, currency, locale="en_US"))
    before, after = pattern
    amount = (Decimal(cents) / 100).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    return f"{sign}{before}{abs(amount):,}{after}"


def change(now: Decimal | int | None, before: Decimal | int | None) -> str:
    """How a figure moved against the previous period, in words a table cell can hold."""
    if now is None or before is None:
        return "no previous figure"
    if before == 0:
        return "new" if now else "no change"
    moved = (Decimal(now) - Decimal(before)) / Decimal(before) * 100
    if moved == 0:
        return "no change"
    return f"{'up' if moved > 0 else 'down'} {abs(moved).quantize(Decimal('0.1'))}%"


def kpis(totals: Totals, previous: Totals, currency: str) -> list[dict[str, str]]:
    pct = percent
    return [
        {
            "name": "Visits",
            "value": str(totals.visits),
            "before": str(previous.visits),
            "change": change(totals.visits, previous.visits),
        },
        {
            "name": "Conversion rate",
            "value": pct(totals.conversion) or "–",
            "before": pct(previous.conversion) or "–",
            "change": change(totals.conversion, previous.conversion),
        },
        {
            "name": "Orders",
            "value": str(totals.orders),
            "before": str(previous.orders),
            "change": change(totals.orders, previous.orders),
        },
        {
            "name": "Revenue",
            "value": money(totals.revenue_cents, currency),
            "before": money(previous.revenue_cents, currency),
            "change": change(totals.revenue_cents, previous.revenue_cents),
        },
        {
            "name": "Average order value",
            "value": money(totals.aov_cents, currency),
            "before": money(previous.aov_cents, currency),
            "change": change(totals.aov_cents, previous.aov_cents),
        },
        {
            "name": "Revenue per visitor",
            "value": money(totals.revenue_per_visit_cents, currency),
            "before": money(previous.revenue_per_visit_cents, currency),
            "change": change(totals.revenue_per_visit_cents, previous.revenue_per_visit_cents),
        },
    ]


def time_charts(series: list[Any], rng: DateRange, currency: str) -> dict[str, Any]:
    labels = [point.day.strftime("%-d %b") for point in series]
    revenue = [
        Point(label, Decimal(p.totals.revenue_cents) / 100) for label, p in zip(labels, series, strict=True)
    ]
    conversion = [
        Point(label, (p.totals.conversion or Decimal(0)) * 100)
        for label, p in zip(labels, series, strict=True)
    ]
    span = f"{rng.start:%-d %b %Y} to {rng.end:%-d %b %Y}"
    return {
        "revenue_chart": bar_chart(
            "revenue-chart",
            "Revenue per day",
            f"Revenue in {currency or 'the store currency'} per day, {span}.",
            revenue,
        ),
        "conversion_chart": line_chart(
            "conversion-chart",
            "Conversion rate per day",
            f"Orders per visit, in percent, per day, {span}.",
            conversion,
            "{:.1f}%",
        ),
        "days": [
            {
                "day": point.day,
                "visits": point.totals.visits,
                "orders": point.totals.orders,
                "revenue": money(point.totals.revenue_cents, currency),
                "conversion": percent(point.totals.conversion) or "–",
            }
            for point in series
        ],
    }


def range_form(choice: str | None, start: str | None, end: str | None) -> dict[str, Any]:
    return {"choice": choice or "", "start": start or "", "end": end or "", "labels": RANGE_LABELS}


def _bad_range(template: str, error: BadRange, form: dict[str, Any], **context: Any) -> Template:
    return Template(
        template_name=template,
        context={"errors": {"range": str(error)}, "form": form, "report": None, **context},
        status_code=400,
    )


async def _funnel(shop_domain: str, funnel_id: int) -> FunnelInfo:
    found = await funnels_of_shop(shop_domain, [funnel_id])
    if not found:
        raise NotFoundException()  # unknown, another shop's, or never published
    return found[0]


def funnel_context(report: FunnelReport) -> dict[str, Any]:
    currency = report.funnel.currency
    totals = report.totals
    offers = [
        {
            "label": f.offer.label,
            "views": f.views,
            "accepts": f.accepts,
            "declines": f.declines,
            "accept_rate": percent(f.accept_rate) or "–",
            "orders": f.orders,
            "take_rate": percent(f.take_rate(totals.orders)) or "–",
            "revenue": money(f.revenue_cents, currency),
        }
        for f in report.offers
    ]
    steps = [("Visits", totals.visits), ("Orders", totals.orders)] + [
        (f"Took {f.offer.label}", f.orders) for f in report.offers if f.offer.position > 0
    ]
    return {
        "report": report,
        "kpis": kpis(totals, report.previous, currency),
        "offers": offers,
        "steps": steps,
        "steps_chart": funnel_chart(
            "steps-chart",
            "The funnel's steps",
            "From visits to orders, then how many orders took each upsell.",
            steps,
        ),
        **time_charts(report.series, report.range, currency),
    }


class FunnelAnalyticsController(Controller):
    path = "/funnels/{funnel_id:int}/analytics"
    dependencies = {"shop_domain": current_shop}

    @get("/")
    async def show(
        self,
        shop_domain: ShopDomain,
        funnel_id: FromPath[int],
        range_choice: RangeChoice = None,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> Template:
        funnel = await _funnel(shop_domain, funnel_id)
        form = range_form(range_choice, start, end)
        try:
            rng = parse_range(range_choice, start, end, utcnow().date())
        except BadRange as error:
            return _bad_range("analytics/funnel.html", error, form, funnel=funnel)
        report = await funnel_report(shop_domain, funnel, rng)
        form["choice"] = rng.choice
        form["start"], form["end"] = rng.start.isoformat(), rng.end.isoformat()
        return Template(
            template_name="analytics/funnel.html",
            context={"funnel": funnel, "form": form, "errors": None, **funnel_context(report)},
        )

    @get("/export.csv")
    async def export(
        self,
        shop_domain: ShopDomain,
        funnel_id: FromPath[int],
        range_choice: RangeChoice = None,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> Response[str] | Template:
        funnel = await _funnel(shop_domain, funnel_id)
        try:
            rng = parse_range(range_choice, start, end, utcnow().date())
        except BadRange as error:
            return _bad_range(
                "analytics/funnel.html", error, range_form(range_choice, start, end), funnel=funnel
            )
        report = await funnel_report(shop_domain, funnel, rng)
        name = f"funnel-{funnel_id}-analytics-{rng.start}-{rng.end}.csv"
        return Response(
            report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


class ShopAnalyticsController(Controller):
    path = "/analytics"
    dependencies = {"shop_domain": current_shop}

    @get("/")
    async def overview(
        self,
        shop_domain: ShopDomain,
        range_choice: RangeChoice = None,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
        page: Annotated[int, QueryParameter(ge=1)] = 1,
    ) -> Template:
        form = range_form(range_choice, start, end)
        try:
            rng = parse_range(range_choice, start, end, utcnow().date())
        except BadRange as error:
            return _bad_range("analytics/overview.html", error, form)
        funnels = await funnels_of_shop(shop_domain, with_offers=False)
        # A page of funnels at a time: a shop may have a thousand, and each row sums its days.
        pages = max(1, -(-len(funnels) // FUNNELS_PER_PAGE))
        page = min(max(page, 1), pages)
        shown = funnels[(page - 1) * FUNNELS_PER_PAGE : page * FUNNELS_PER_PAGE]
        overview = await shop_overview(shop_domain, shown, rng)
        currency = next((f.currency for f in funnels if f.currency), "")
        form["choice"] = rng.choice
        form["start"], form["end"] = rng.start.isoformat(), rng.end.isoformat()
        rows = [
            {
                "funnel": row.funnel,
                "visits": row.totals.visits,
                "conversion": percent(row.totals.conversion) or "–",
                "orders": row.totals.orders,
                "revenue": money(row.totals.revenue_cents, row.funnel.currency or currency),
                "aov": money(row.totals.aov_cents, row.funnel.currency or currency),
            }
            for row in overview.rows
        ]
        return Template(
            template_name="analytics/overview.html",
            context={
                "form": form,
                "errors": None,
                "report": overview,
                "kpis": kpis(overview.totals, overview.previous, currency),
                "rows": rows,
                "pager": {
                    "page": page,
                    "pages": pages,
                    "first": (page - 1) * FUNNELS_PER_PAGE + 1,
                    "last": (page - 1) * FUNNELS_PER_PAGE + len(shown),
                    "count": len(funnels),
                },
                **time_charts(overview.series, rng, currency),
            },
        )
