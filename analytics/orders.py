"""The CRM's orders of a funnel's campaign, as analytics counts them.

Sync hands every CRM order event of a live funnel's campaign here (`SyncContext.order_seen`,
wired in onboarding/composition.py), whichever way the order came: placed on the live page or
written to the CRM from Shopify. One row per CRM order, replaced by each newer copy; a
cancelled or refunded order stays, uncounted, so revenue falls back. The funnel's day is
rolled up again at once: orders are few, and the pages then show them without waiting.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog

from analytics.rollup import roll_up_day
from analytics.tables import OrderFact
from lib.clock import utcnow
from lib.db import write_transaction

log = structlog.get_logger("analytics.orders")

# CRM order statuses that take the order back out of the figures.
NOT_COUNTED = frozenset({"cancelled", "refunded"})


def cents(amount: Any) -> int:
    """A CRM money string ("47.60") in hundredths, exactly; anything unreadable is 0."""
    try:
        return int((Decimal(str(amount or "0")) * 100).to_integral_value())
    except InvalidOperation:
        return 0


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def order_lines(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "product": str(item.get("product_id") or ""),
            "quantity": int(item.get("quantity") or 0),
            "cents": cents(item.get("price")) * int(item.get("quantity") or 0),
        }
        for item in order.get("items") or []
    ]


def order_total_cents(order: dict[str, Any]) -> int:
    """The order's total less what was refunded of it (`refunded_total`, when the CRM says)."""
    total = (
        cents(order["total"])
        if order.get("total") is not None
        else sum(line["cents"] for line in order_lines(order))
    )
    return max(total - cents(order.get("refunded_total")), 0)


async def record_order(shop_domain: str, funnel_id: int, order: dict[str, Any], variant: str = "") -> None:
    """Counts (or recounts) a CRM order of the funnel's campaign; an older copy changes nothing."""
    crm_id = str(order.get("id") or "")
    if not crm_id:
        return
    updated = _when(order.get("updated_at"))
    placed = _when(order.get("created_at")) or utcnow()
    status = str(order.get("status") or "")
    day = placed.date()
    row: dict[str, Any] = {
        "shop_domain": shop_domain,
        "funnel_id": funnel_id,
        "variant": variant,
        "crm_order_id": crm_id,
        "order_key": f"{shop_domain}:{crm_id}",
        "day": day,
        "status": status,
        "counted": status not in NOT_COUNTED,
        "total_cents": order_total_cents(order),
        "lines": order_lines(order),
        "crm_updated_at": updated,
        "updated_at": utcnow(),
    }
    async with write_transaction():
        existing = (
            await OrderFact.select(OrderFact.id, OrderFact.crm_updated_at, OrderFact.day, OrderFact.variant)
            .where(OrderFact.order_key == row["order_key"])
            .first()
        )
        if existing is not None:
            known = existing["crm_updated_at"]
            if known is not None and updated is not None and updated < known:
                return  # a stale copy: a later event already counted the order as it is now
            if not variant:
                row["variant"] = existing["variant"]  # a variant once known stays
        columns = {getattr(OrderFact, name): value for name, value in row.items()}
        if existing is not None:
            await OrderFact.update(columns).where(OrderFact.id == existing["id"])
        else:
            await OrderFact.insert(OrderFact(columns))
        days: set[date] = {day} | ({existing["day"]} if existing is not None else set())
        for touched in days:
            await roll_up_day(shop_domain, funnel_id, touched)
    log.info("order_counted", shop=shop_domain, funnel=funnel_id, order=crm_id, counted=row["counted"])
