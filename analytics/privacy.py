"""What the analytics domain forgets of a shop: its funnels' events, order facts and rollups.

A visitor is a random id the page made; an order fact holds the CRM order's id, amounts and
products. A customer's redaction takes the CRM ids off their orders' facts (forget_orders):
the amounts stay in the figures.
"""

from __future__ import annotations

import secrets

from analytics.tables import FunnelDay, OfferDay, OrderFact, RollupCursor, ShopDay, TrafficEvent

SHOP_TABLES_FORGOTTEN = (TrafficEvent, OrderFact, FunnelDay, ShopDay, OfferDay)
NO_SHOP_DATA = (RollupCursor,)


async def forget_shop(shop_domain: str) -> int:
    """Every analytics row of the shop; returns how many went."""
    removed = 0
    for table in SHOP_TABLES_FORGOTTEN:
        rows = await table.delete().where(table.shop_domain == shop_domain).returning(table.id)
        removed += len(rows)
    return removed


async def forget_orders(shop_domain: str, crm_order_ids: list[str]) -> int:
    """A redacted customer's orders stop naming them: their facts keep the amounts the figures
    add up (no personal data) under a random key instead of the CRM order's id."""
    rows = await OrderFact.select(OrderFact.id).where(
        (OrderFact.shop_domain == shop_domain) & OrderFact.crm_order_id.is_in(crm_order_ids or [""])
    )
    for row in rows:
        anonymous = f"redacted-{secrets.token_hex(8)}"
        await OrderFact.update(
            {OrderFact.crm_order_id: anonymous, OrderFact.order_key: f"{shop_domain}:{anonymous}"}
        ).where(OrderFact.id == row["id"])
    return len(rows)
