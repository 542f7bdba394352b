"""The analytics pages of a live funnel on the in-process stack: traffic from the beacon, orders
from the CRM through the real order sync, figures that reconcile with the CRM's orders."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest

from analytics.beacon import beacon_key, sign_token
from analytics.offers import FunnelInfo
from analytics.reports import funnel_report, parse_range
from analytics.rollup import SETTLE, roll_up_new_events
from funnels.analytics_scope import funnels_of_shop
from funnels.tables import Funnel, FunnelStatus
from lib.clock import utcnow
from sandbox.simulate import simulate_traffic
from tests.support.live_funnel import crm_funnel_order, crm_orders, live_funnel, settle, user_id
from tests.support.shops import OTHER_SHOP, SHOP
from tests.support.stack import Stack, running_stack

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        running.funnel_id = await live_funnel(running)  # type: ignore[attr-defined]
        yield running


def funnel_of(stack: Stack) -> int:
    funnel_id: int = stack.funnel_id  # type: ignore[attr-defined]
    return funnel_id


async def visit(stack: Stack, visitor: str, **fields: str) -> None:
    settings = stack.app.state.settings
    token = sign_token(beacon_key(settings.analytics_beacon_key, settings.secret_key), SHOP, funnel_of(stack))
    answer = await stack.client.post(
        "/beacon", data={"t": token, "v": visitor, **fields}, headers={"User-Agent": BROWSER}
    )
    assert answer.status_code == 204, answer.text


async def today_report(stack: Stack) -> tuple[FunnelInfo, Decimal, int, int]:
    await roll_up_new_events(utcnow() + SETTLE * 2)
    (funnel,) = await funnels_of_shop(SHOP, [funnel_of(stack)])
    report = await funnel_report(SHOP, funnel, parse_range("today", None, None, utcnow().date()))
    return funnel, Decimal(report.totals.revenue_cents) / 100, report.totals.orders, report.totals.visits


def crm_revenue(orders: list[dict[str, object]], campaign_id: str) -> Decimal:
    """What the CRM says the funnel's campaign sold: its orders not cancelled, summed."""
    return sum(
        (
            Decimal(str(order["total"]))
            for order in orders
            if order["campaign_id"] == campaign_id and order["status"] != "cancelled"
        ),
        Decimal(0),
    )


@pytest.mark.postgres
async def test_traffic_and_crm_orders_give_exact_figures_that_reconcile_and_a_cancellation_lowers_them(
    stack: Stack,
) -> None:
    for visitor in ("visitor-0001", "visitor-0002", "visitor-0003", "visitor-0004"):
        await visit(stack, visitor, k="page_view")
    await visit(stack, "visitor-0001", k="page_view")  # a reload: counted once
    first = await crm_funnel_order(stack)
    second = await crm_funnel_order(stack)
    await settle(stack)

    funnel, revenue, orders, visits = await today_report(stack)
    campaign_id = str(first["campaign_id"])
    assert (orders, visits) == (2, 4)
    assert revenue == Decimal(str(first["total"])) + Decimal(str(second["total"]))
    assert revenue == crm_revenue(await crm_orders(stack), campaign_id)  # both sides agree
    main = funnel.offers[0]
    assert main.position == 0
    assert main.offer_id
    assert main.product_id

    page = await stack.client.get(f"/funnels/{funnel_of(stack)}/analytics/?range=today")
    assert page.status_code == 200
    assert "Revenue over time" in page.text
    assert "<svg" in page.text
    assert "50.0%" in page.text  # 2 orders of 4 visits

    cancelled = await stack.crm.put(
        f"/_sandbox/users/{await user_id(stack)}/orders/{second['id']}", json={"status": "cancelled"}
    )
    assert cancelled.status_code == 200, cancelled.text
    await settle(stack)

    _, revenue_after, orders_after, _ = await today_report(stack)
    assert (orders_after, revenue_after) == (1, revenue - Decimal(str(second["total"])))
    assert revenue_after == crm_revenue(await crm_orders(stack), campaign_id)

    export = await stack.client.get(f"/funnels/{funnel_of(stack)}/analytics/export.csv?range=today")
    assert export.headers["content-type"].startswith("text/csv")
    total_row = next(row for row in csv.reader(io.StringIO(export.text)) if row and row[0] == "total")
    assert total_row[1:5] == ["4", "4", "1", str(revenue_after.quantize(Decimal("0.01")))]


@pytest.mark.postgres
async def test_simulated_traffic_over_days_gives_exactly_the_expected_figures(stack: Stack) -> None:
    (site,) = (await stack.templates.get("/_sandbox/sites")).json()["data"]
    upsells = len(site["content"]["upsells"])

    simulated = await simulate_traffic(
        stack.templates,
        stack.crm,
        site["id"],
        visitors=60,
        days=10,
        conversion=0.3,
        take_rates=[0.5] * upsells,
        seed=7,
    )
    await settle(stack)
    await roll_up_new_events(utcnow() + SETTLE * 2)

    (funnel,) = await funnels_of_shop(SHOP, [funnel_of(stack)])
    today = utcnow().date()
    report = await funnel_report(
        SHOP, funnel, parse_range("custom", str(today - timedelta(days=9)), str(today), today)
    )
    placed = simulated["orders"]
    assert placed  # some visitors bought
    assert report.totals.visits == 60  # one visit each, on its own day
    assert report.totals.orders == len(placed)
    expected = sum((Decimal(str(order["total"])) for order in placed), Decimal(0))
    assert Decimal(report.totals.revenue_cents) / 100 == expected
    assert Decimal(report.totals.revenue_cents) / 100 == crm_revenue(
        await crm_orders(stack), str(placed[0]["campaign_id"])
    )
    assert len({point.day for point in report.series if point.totals.visits}) == 10  # spread over the days
    main, *rest = report.offers
    assert main.views == 60
    assert main.accepts == main.orders == len(placed)
    for offer in rest:
        taken = sum(1 for p in simulated["purchases"] if offer.offer.offer_id in p["offer_ids"])
        assert (offer.accepts, offer.orders) == (taken, taken)
        assert offer.accepts + offer.declines == offer.views == len(placed)


async def test_bad_ranges_and_other_shops_funnels_get_a_clear_answer(stack: Stack) -> None:
    funnel_id = funnel_of(stack)
    today = utcnow().date()
    backwards = await stack.client.get(
        f"/funnels/{funnel_id}/analytics/",
        params={"range": "custom", "start": str(today), "end": str(today - timedelta(days=3))},
    )
    future = await stack.client.get(
        "/analytics/", params={"range": "custom", "start": str(today), "end": str(today + timedelta(days=1))}
    )
    garbage = await stack.client.get(
        f"/funnels/{funnel_id}/analytics/", params={"range": "custom", "start": "soon"}
    )

    assert backwards.status_code == 400
    assert "The end date is before the start date." in backwards.text
    assert str(today - timedelta(days=3)) in backwards.text  # the input is kept
    assert future.status_code == 400
    assert "The range is in the future" in future.text
    assert garbage.status_code == 400
    assert "needs both a start and an end date" in garbage.text
    theirs = await Funnel.insert(Funnel(shop_domain=OTHER_SHOP, status=FunnelStatus.LIVE)).returning(
        Funnel.id
    )
    for path in (f"/funnels/{theirs[0]['id']}/analytics/", "/funnels/999999/analytics/export.csv"):
        assert (await stack.client.get(path)).status_code == 404


async def test_the_overview_lists_the_shops_funnels(stack: Stack) -> None:
    await visit(stack, "visitor-0001", k="page_view")
    await crm_funnel_order(stack)
    await roll_up_new_events(utcnow() + SETTLE * 2)

    page = await stack.client.get("/analytics/")

    assert page.status_code == 200
    assert f'href="/funnels/{funnel_of(stack)}/analytics/' in page.text
    assert "Conversion over time" in page.text


async def test_the_overview_shows_a_page_of_funnels_and_the_whole_shops_totals(stack: Stack) -> None:
    await Funnel.insert(
        *(Funnel(shop_domain=SHOP, name=f"Extra {n:03d}", status=FunnelStatus.LIVE) for n in range(60))
    )
    await visit(stack, "visitor-0001", k="page_view")
    await roll_up_new_events(utcnow() + SETTLE * 2)

    first = await stack.client.get("/analytics/?range=7d")
    second = await stack.client.get("/analytics/?range=7d&page=2")
    beyond = await stack.client.get("/analytics/?range=7d&page=9")

    assert first.status_code == second.status_code == beyond.status_code == 200
    assert "Funnels 1–50 of 61" in first.text
    assert 'rel="next"' in first.text
    assert 'rel="prev"' not in first.text
    assert "Funnels 51–61 of 61" in second.text
    assert 'rel="prev"' in second.text
    assert "range=7d&amp;start=" in first.text
    assert "page=2" in first.text
    assert "Funnels 51–61 of 61" in beyond.text  # past the last page: the last page
    funnel_link = re.compile(r'href="/funnels/\d+/analytics/')
    assert len(funnel_link.findall(first.text)) == 50
    assert len(funnel_link.findall(second.text)) == 11  # every funnel is on one of the two pages
    assert (await stack.client.get("/analytics/?page=0")).status_code == 400
