"""Events and orders rolled up per funnel, day and variant; a day rolled up again is unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from analytics.orders import record_order
from analytics.rollup import SETTLE, roll_up_new_events
from analytics.tables import EventKind, FunnelDay, OfferDay, TrafficEvent
from tests.support.shops import SHOP

DAY = date(2026, 11, 2)
NOON = datetime(2026, 11, 2, 12, tzinfo=UTC)


async def event(
    funnel_id: int, kind: EventKind, visitor: str, offer: str = "", variant: str = "", at: datetime = NOON
) -> None:
    await TrafficEvent.insert(
        TrafficEvent(
            event_key=f"{funnel_id}:{visitor}:{kind}:{offer}:{at.timestamp()}",
            shop_domain=SHOP,
            funnel_id=funnel_id,
            variant=variant,
            kind=kind.value,
            offer=offer,
            visitor=visitor,
            occurred_at=at,
        )
    )


def crm_order(
    order_id: str,
    items: list[tuple[str, int, str]],
    status: str = "paid",
    updated: str = "2026-11-02T13:00:00Z",
) -> dict[str, object]:
    return {
        "id": order_id,
        "status": status,
        "items": [{"product_id": p, "quantity": q, "price": price} for p, q, price in items],
        "total": str(sum(q * float(price) for _, q, price in items)),
        "created_at": "2026-11-02T12:30:00Z",
        "updated_at": updated,
    }


@pytest.mark.postgres
@pytest.mark.usefixtures("database")
async def test_a_day_rolls_up_visits_views_orders_and_each_offers_figures() -> None:
    for visitor, variant in [("v1", "a"), ("v2", "a"), ("v3", "b")]:
        await event(7, EventKind.PAGE_VIEW, visitor, variant=variant)
    await event(7, EventKind.PAGE_VIEW, "v1", variant="a", at=NOON + timedelta(hours=1))  # after the window
    await event(7, EventKind.OFFER_VIEW, "v1", "41", "a")
    await event(7, EventKind.OFFER_ACCEPT, "v1", "41", "a")
    await event(7, EventKind.OFFER_DECLINE, "v2", "41", "a")
    await event(7, EventKind.PAGE_VIEW, "v9", at=NOON + timedelta(days=1))  # another day
    await record_order(SHOP, 7, crm_order("o1", [("p-main", 1, "20.00"), ("p-up", 2, "5.50")]), variant="a")
    await record_order(SHOP, 7, crm_order("o2", [("p-main", 1, "20.00")]), variant="b")

    with time_machine.travel(NOON + timedelta(days=1) + SETTLE * 2, tick=False):
        assert await roll_up_new_events() == 8

    days = (
        await FunnelDay.select(
            FunnelDay.day,
            FunnelDay.variant,
            FunnelDay.visits,
            FunnelDay.page_views,
            FunnelDay.orders,
            FunnelDay.revenue_cents,
        )
        .order_by(FunnelDay.day)
        .order_by(FunnelDay.variant)
    )
    assert [
        (str(d["day"]), d["variant"], d["visits"], d["page_views"], d["orders"], d["revenue_cents"])
        for d in days
    ] == [
        ("2026-11-02", "a", 2, 3, 1, 3100),
        ("2026-11-02", "b", 1, 1, 1, 2000),
        ("2026-11-03", "", 1, 1, 0, 0),
    ]
    offers = await OfferDay.select(
        OfferDay.variant,
        OfferDay.offer,
        OfferDay.product,
        OfferDay.views,
        OfferDay.accepts,
        OfferDay.declines,
        OfferDay.orders,
        OfferDay.revenue_cents,
    ).where(OfferDay.day == DAY)
    assert sorted(tuple(row.values()) for row in offers) == [
        ("a", "", "p-main", 0, 0, 0, 1, 2000),
        ("a", "", "p-up", 0, 0, 0, 1, 1100),
        ("a", "41", "", 1, 1, 1, 0, 0),
        ("b", "", "p-main", 0, 0, 0, 1, 2000),
    ]


@pytest.mark.usefixtures("database")
async def test_rolling_up_again_changes_nothing_and_new_events_are_added() -> None:
    await event(7, EventKind.PAGE_VIEW, "v1")
    with time_machine.travel(NOON + SETTLE * 2, tick=False):
        await roll_up_new_events()
        assert await roll_up_new_events() == 0
    await event(7, EventKind.PAGE_VIEW, "v2", at=NOON + timedelta(minutes=1))
    with time_machine.travel(NOON + SETTLE * 10, tick=False):
        assert await roll_up_new_events() == 1

    (day,) = await FunnelDay.select(FunnelDay.visits, FunnelDay.page_views)
    assert (day["visits"], day["page_views"]) == (2, 2)


@pytest.mark.usefixtures("database")
async def test_events_younger_than_the_settling_time_wait_for_the_next_run() -> None:
    await event(7, EventKind.PAGE_VIEW, "v1")
    with time_machine.travel(NOON + SETTLE / 2, tick=False):
        assert await roll_up_new_events() == 0
    assert await FunnelDay.count() == 0


@pytest.mark.usefixtures("database")
async def test_a_cancelled_order_leaves_the_figures_and_a_stale_copy_changes_nothing() -> None:
    items = [("p-main", 1, "20.00")]
    await record_order(SHOP, 7, crm_order("o1", items))
    await record_order(SHOP, 7, crm_order("o2", items))
    await record_order(SHOP, 7, crm_order("o2", items, status="cancelled", updated="2026-11-02T15:00:00Z"))
    await record_order(
        SHOP, 7, crm_order("o2", items, status="paid", updated="2026-11-02T14:00:00Z")
    )  # stale

    (day,) = await FunnelDay.select(FunnelDay.orders, FunnelDay.revenue_cents)
    assert (day["orders"], day["revenue_cents"]) == (1, 2000)
