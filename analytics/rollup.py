"""Rolls the append-only events and the order facts up per funnel, UTC day and variant.

The pages read only the rollups (FunnelDay, ShopDay, OfferDay). A day is always rolled up whole from
its events and orders (delete, then insert), so rolling it up again is harmless. The job
`analytics.roll_up` reads the events added since its cursor, rolls up each funnel-day they
touch, moves the cursor and comes back every ROLL_UP_INTERVAL. It reads only events older
than SETTLE: ids are handed out before commit, so a slow insert can commit after a higher id;
within SETTLE every insert (a single-row statement) has committed.

ShopDay (the shop overview's rollup) is the sum of the shop's FunnelDay rows of a day. Rebuilding
a funnel day adds that funnel day's change to it in the same transaction, as one atomic upsert
(`visits = visits + change`): funnels of a shop rolled up at once then never lose each other's
figures, which re-summing the shop's funnel days could under PostgreSQL's read committed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog
from piccolo.engine.sqlite import SQLiteEngine

from analytics.tables import (
    EventKind,
    FunnelDay,
    OfferDay,
    OrderFact,
    RollupCursor,
    ShopDay,
    TrafficEvent,
)
from jobqueue.jobs import JobContext, schedule_once
from lib.clock import utcnow
from lib.db import write_transaction

log = structlog.get_logger("analytics.rollup")

JOB_ROLL_UP = "analytics.roll_up"
ROLL_UP_INTERVAL = timedelta(seconds=30)
SETTLE = timedelta(seconds=10)
BATCH = 5000
CURSOR = "events"
OFFER_COUNTERS = {
    EventKind.OFFER_VIEW: "views",
    EventKind.OFFER_ACCEPT: "accepts",
    EventKind.OFFER_DECLINE: "declines",
}
FIGURES = ("visits", "page_views", "orders", "revenue_cents")
# Only these constants go into the statement's text; values are parameters.
ADD_TO_SHOP_DAY = (
    "INSERT INTO shop_day (shop_domain, day, rollup_key, visits, page_views, orders, revenue_cents)"  # noqa: S608
    " VALUES ({}, {}, {}, {}, {}, {}, {}) ON CONFLICT (rollup_key) DO UPDATE SET "
    + ", ".join(f"{figure} = shop_day.{figure} + excluded.{figure}" for figure in FIGURES)
)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


async def roll_up_day(shop_domain: str, funnel_id: int, day: date) -> None:
    """Rebuilds the funnel's rollups of `day` from its events and counted orders."""
    start, end = day_bounds(day)
    events = await TrafficEvent.select(
        TrafficEvent.variant, TrafficEvent.kind, TrafficEvent.offer, TrafficEvent.visitor
    ).where(
        (TrafficEvent.funnel_id == funnel_id)
        & (TrafficEvent.shop_domain == shop_domain)
        & (TrafficEvent.occurred_at >= start)
        & (TrafficEvent.occurred_at < end)
    )
    orders = (
        await OrderFact.select(OrderFact.variant, OrderFact.total_cents, OrderFact.lines)
        .where(
            (OrderFact.funnel_id == funnel_id)
            & (OrderFact.shop_domain == shop_domain)
            & (OrderFact.day == day)
            & (OrderFact.counted.eq(True))
        )
        .output(load_json=True)
    )
    funnel_rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"visitors": set(), "page_views": 0, "orders": 0, "revenue_cents": 0}
    )
    offer_rows: dict[tuple[str, str, str], dict[str, int]] = defaultdict(
        lambda: {"views": 0, "accepts": 0, "declines": 0, "orders": 0, "revenue_cents": 0}
    )
    for event in events:
        kind = EventKind(event["kind"])
        if kind is EventKind.PAGE_VIEW:
            row = funnel_rows[event["variant"]]
            row["visitors"].add(event["visitor"])
            row["page_views"] += 1
        else:
            offer_rows[(event["variant"], event["offer"], "")][OFFER_COUNTERS[kind]] += 1
    for order in orders:
        row = funnel_rows[order["variant"]]
        row["orders"] += 1
        row["revenue_cents"] += order["total_cents"]
        lines = order["lines"] if isinstance(order["lines"], list) else []
        for product in {str(line.get("product") or "") for line in lines} - {""}:
            bought = offer_rows[(order["variant"], "", product)]
            bought["orders"] += 1
            bought["revenue_cents"] += sum(
                int(line.get("cents") or 0) for line in lines if line.get("product") == product
            )
    new = {
        "visits": sum(len(row["visitors"]) for row in funnel_rows.values()),
        **{figure: sum(row[figure] for row in funnel_rows.values()) for figure in FIGURES[1:]},
    }
    async with write_transaction():
        # The rows deleted are the funnel day's figures the shop day holds now.
        old = await (
            FunnelDay.delete()
            .where((FunnelDay.funnel_id == funnel_id) & (FunnelDay.day == day))
            .returning(FunnelDay.shop_domain, *(getattr(FunnelDay, figure) for figure in FIGURES))
        )
        await _add_to_shop_days(shop_domain, day, new, old)
        await OfferDay.delete().where((OfferDay.funnel_id == funnel_id) & (OfferDay.day == day))
        if funnel_rows:
            await FunnelDay.insert(
                *(
                    FunnelDay(
                        shop_domain=shop_domain,
                        funnel_id=funnel_id,
                        day=day,
                        variant=variant,
                        rollup_key=f"{funnel_id}:{day.isoformat()}:{variant}",
                        visits=len(row["visitors"]),
                        page_views=row["page_views"],
                        orders=row["orders"],
                        revenue_cents=row["revenue_cents"],
                    )
                    for variant, row in funnel_rows.items()
                )
            )
        if offer_rows:
            await OfferDay.insert(
                *(
                    OfferDay(
                        shop_domain=shop_domain,
                        funnel_id=funnel_id,
                        day=day,
                        variant=variant,
                        offer=offer,
                        product=product,
                        rollup_key=f"{funnel_id}:{day.isoformat()}:{variant}:{offer}:{product}",
                        views=counts["views"],
                        accepts=counts["accepts"],
                        declines=counts["declines"],
                        orders=counts["orders"],
                        revenue_cents=counts["revenue_cents"],
                    )
                    for (variant, offer, product), counts in offer_rows.items()
                )
            )


async def _add_to_shop_days(
    shop_domain: str, day: date, new: dict[str, int], old: list[dict[str, Any]]
) -> None:
    """Moves the shop day by the funnel day's change (old rows of another shop, should a funnel
    id ever have changed shops, are taken off that shop's day)."""
    changes: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    changes[shop_domain] = dict(new)
    for row in old:
        for figure in FIGURES:
            changes[row["shop_domain"]][figure] -= int(row[figure] or 0)
    sqlite = isinstance(ShopDay._meta.db, SQLiteEngine)
    for shop, change in changes.items():
        if not any(change.values()):
            continue
        await ShopDay.raw(
            ADD_TO_SHOP_DAY,
            shop,
            day.isoformat() if sqlite else day,
            f"{shop}:{day.isoformat()}",
            *(change[figure] for figure in FIGURES),
        )


async def roll_up_new_events(now: datetime | None = None) -> int:
    """Rolls up every funnel-day touched by events since the cursor; how many events it read."""
    settled = (now or utcnow()) - SETTLE
    cursor = await RollupCursor.select(RollupCursor.last_event_id).where(RollupCursor.name == CURSOR).first()
    last = int(cursor["last_event_id"]) if cursor else 0
    read = 0
    while True:
        events = (
            await TrafficEvent.select(
                TrafficEvent.id, TrafficEvent.shop_domain, TrafficEvent.funnel_id, TrafficEvent.occurred_at
            )
            .where((TrafficEvent.id > last) & (TrafficEvent.occurred_at < settled))
            .order_by(TrafficEvent.id)
            .limit(BATCH)
        )
        if not events:
            break
        touched = {
            (e["shop_domain"], e["funnel_id"], e["occurred_at"].astimezone(UTC).date()) for e in events
        }
        for shop_domain, funnel_id, day in sorted(touched):
            await roll_up_day(shop_domain, funnel_id, day)
        last = int(events[-1]["id"])
        read += len(events)
        async with write_transaction():
            if cursor is None:
                await RollupCursor.insert(RollupCursor(name=CURSOR, last_event_id=last, updated_at=utcnow()))
                cursor = {"last_event_id": last}
            else:
                await RollupCursor.update(
                    {RollupCursor.last_event_id: last, RollupCursor.updated_at: utcnow()}
                ).where(RollupCursor.name == CURSOR)
        if len(events) < BATCH:
            break
    return read


async def roll_up_job(job: JobContext) -> None:
    read = await roll_up_new_events()
    log.info("events_rolled_up", events=read)
    await schedule_roll_up(ROLL_UP_INTERVAL)


async def schedule_roll_up(delay: timedelta = timedelta(0)) -> None:
    """Queues the rollup job once (one for the whole app: its cursor is global)."""
    await schedule_once(JOB_ROLL_UP, None, delay=delay)
