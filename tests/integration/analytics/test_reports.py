"""The shop overview reads the shop's daily rollup: its totals, series and previous period stay
the sum of its funnels' as funnel days are rolled up, rolled up again and orders cancelled."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from analytics.offers import FunnelInfo
from analytics.orders import record_order
from analytics.reports import DateRange, Totals, funnel_report, shop_overview
from analytics.rollup import SETTLE, roll_up_new_events
from analytics.tables import EventKind, TrafficEvent
from tests.integration.analytics.test_rollup import DAY, NOON, crm_order, event
from tests.support.shops import OTHER_SHOP, SHOP

FUNNELS = [FunnelInfo(7, "Seven", "USD", ()), FunnelInfo(8, "Eight", "USD", ())]


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
        await event(funnel_id, EventKind.PAGE_VIEW, visitor, variant=variant, at=at)
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
    items = [("p-main", 1, "20.00")]
    await record_order(SHOP, 7, crm_order("o1", items))
    await record_order(SHOP, 8, crm_order("o2", items))
    with time_machine.travel(NOON + SETTLE * 2, tick=False):
        await roll_up_new_events()
    # A funnel day rolled up again with more traffic, and an order cancelled, move the shop day.
    await event(7, EventKind.PAGE_VIEW, "v6", at=NOON + timedelta(minutes=1))
    with time_machine.travel(NOON + SETTLE * 10, tick=False):
        await roll_up_new_events()
    await record_order(SHOP, 8, crm_order("o2", items, status="cancelled", updated="2026-11-02T15:00:00Z"))

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
