"""The shop overview reads the shop's daily rollup: its totals, series and previous period stay
the sum of its funnels' as funnel days are rolled up, rolled up again and orders cancelled."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from analytics.offers import FunnelInfo
from analytics.orders import record_order
from analytics.reports import DateRange, Totals, funnel_report, shop_overview
from analytics.rollup import SETTLE, roll_up_new_events
from analytics.tables import EventKind, TrafficEvent
from tests.support.shops import OTHER_SHOP, SHOP

DAY = date(2026, 11, 2)
NOON = datetime(2026, 11, 2, 12, tzinfo=UTC)
FUNNELS = [FunnelInfo(7, "Seven", "USD", ()), FunnelInfo(8, "Eight", "USD", ())]


async def event(funnel_id: int, kind: EventKind, visitor: str, variant: str, at: datetime) -> None:
    await TrafficEvent.insert(
        TrafficEvent(
            event_key=f"{funnel_id}:{visitor}:{kind}:{at.timestamp()}",
            shop_domain=SHOP,
            funnel_id=funnel_id,
            variant=variant,
            kind=kind.value,
            visitor=visitor,
            occurred_at=at,
        )
    )


def crm_order(
    order_id: str, status: str = "paid", updated: str = "2026-11-02T13:00:00Z"
) -> dict[str, object]:
    return {
        "id": order_id,
        "status": status,
        "items": [{"product_id": "p-main", "quantity": 1, "price": "20.00"}],
        "total": "20.00",
        "created_at": "2026-11-02T12:30:00Z",
        "updated_at": updated,
    }


async def funnels_summed(rng: DateRange) -> Totals:
    return sum([(await funnel_report(SHOP, funnel, rng)).totals for funnel in FUNNELS], Totals())


@pytest.mark.postgres
@pytest.mark.usefixtures("database")
async def test_the_overview_totals_equal_the_sum_of_its_funnels_through_re_rollups() -> None:
    before = NOON - timedelta(days=1)
    for funnel_id, visitor, variant, at in [
        (7, "v1", "", NOON),
        (7, "v2", "", NOON),
        (8, "v3", "a", NOON),
        (8, "v4", "b", NOON),
        (8, "v5", "", before),
    ]:
        await event(funnel_id, EventKind.PAGE_VIEW, visitor, variant, at)
    await TrafficEvent.insert(
        TrafficEvent(
            event_key="9:other",
            shop_domain=OTHER_SHOP,
            funnel_id=9,
            kind="page_view",
            visitor="o",
            occurred_at=NOON,
        )
    )
    await record_order(SHOP, 7, crm_order("o1"))
    await record_order(SHOP, 8, crm_order("o2"))
    with time_machine.travel(NOON + SETTLE * 2, tick=False):
        await roll_up_new_events()
    # A funnel day rolled up again with more traffic, and an order cancelled, move the shop day.
    await event(7, EventKind.PAGE_VIEW, "v6", "", NOON + timedelta(minutes=1))
    with time_machine.travel(NOON + SETTLE * 10, tick=False):
        await roll_up_new_events()
    await record_order(SHOP, 8, crm_order("o2", status="cancelled", updated="2026-11-02T15:00:00Z"))

    today = DateRange(DAY, DAY)
    overview = await shop_overview(SHOP, FUNNELS, today)

    assert overview.totals == await funnels_summed(today)
    assert (overview.totals.visits, overview.totals.orders, overview.totals.revenue_cents) == (5, 1, 2000)
    assert overview.totals == sum((row.totals for row in overview.rows), Totals())
    assert overview.previous == await funnels_summed(today.previous())
    assert overview.previous.visits == 1
    two_days = DateRange(DAY - timedelta(days=1), DAY)
    wide = await shop_overview(SHOP, FUNNELS, two_days)
    assert [point.totals.visits for point in wide.series] == [1, 5]
    assert wide.totals == await funnels_summed(two_days)
    assert (await shop_overview(OTHER_SHOP, [], today)).totals.visits == 1
