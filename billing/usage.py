"""Synced orders counted against the plan's monthly limit, for the sync engine to call.

An order counts once per calendar month (UTC), however often it is synced that month. The
month's row is locked while a claim is decided (SQLite: the write lock of BEGIN IMMEDIATE;
PostgreSQL: SELECT ... FOR UPDATE), so concurrent claims never exceed the limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from piccolo.engine.postgres import PostgresEngine

from billing.services import entitlements
from billing.tables import SyncedOrderClaim, SyncedOrderMonth
from lib.clock import utcnow
from lib.db import write_transaction


@dataclass(frozen=True)
class FunnelUsage:
    """What a shop's funnels use of its plan's limits, as the funnels domain counts it."""

    live_funnels: int
    most_upsells_in_a_funnel: int


# Billing sits below funnels and may not read its tables: the funnels domain hands this in.
FunnelUsageOf = Callable[[str], Awaitable[FunnelUsage]]


def month_of(now: datetime) -> str:
    """The calendar month (UTC) a moment falls in, as "2026-11"."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).strftime("%Y-%m")


async def claim_synced_order(shop_domain: str, order_key: str, now: datetime) -> bool:
    """Counts `order_key` against the shop's synced orders of `now`'s month. True when the order
    may sync: newly counted, or counted already this month. False when the month's count has
    reached the plan's limit (the order is not counted)."""
    period = month_of(now)
    limit = (await entitlements(shop_domain, now)).synced_orders_per_month
    async with write_transaction():
        await SyncedOrderMonth.insert(
            SyncedOrderMonth(shop_domain=shop_domain, period=period, orders=0)
        ).on_conflict(action="DO NOTHING")
        month = SyncedOrderMonth.select(SyncedOrderMonth.id, SyncedOrderMonth.orders).where(
            (SyncedOrderMonth.shop_domain == shop_domain) & (SyncedOrderMonth.period == period)
        )
        if isinstance(SyncedOrderMonth._meta.db, PostgresEngine):
            month = month.lock_rows("UPDATE")
        row = await month.first()
        assert row is not None
        if await SyncedOrderClaim.exists().where(
            (SyncedOrderClaim.shop_domain == shop_domain)
            & (SyncedOrderClaim.period == period)
            & (SyncedOrderClaim.order_key == order_key)
        ):
            return True
        if row["orders"] >= limit:
            return False
        await SyncedOrderClaim.insert(
            SyncedOrderClaim(shop_domain=shop_domain, period=period, order_key=order_key, claimed_at=now)
        )
        await SyncedOrderMonth.update(
            {SyncedOrderMonth.orders: SyncedOrderMonth.orders + 1, SyncedOrderMonth.updated_at: utcnow()}
        ).where(SyncedOrderMonth.id == row["id"])
    return True


async def synced_orders_this_month(shop_domain: str, now: datetime) -> int:
    row = (
        await SyncedOrderMonth.select(SyncedOrderMonth.orders)
        .where((SyncedOrderMonth.shop_domain == shop_domain) & (SyncedOrderMonth.period == month_of(now)))
        .first()
    )
    return int(row["orders"]) if row else 0
