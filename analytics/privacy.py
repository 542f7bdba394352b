"""What the analytics domain forgets of a shop: its funnels' events, order facts and rollups.

Nothing here names a customer: a visitor is a random id the page made, an order fact holds
the CRM order's id, amounts and products. A customer's redaction has nothing to do here.
"""

from __future__ import annotations

from analytics.tables import FunnelDay, OfferDay, OrderFact, RollupCursor, TrafficEvent

SHOP_TABLES_FORGOTTEN = (TrafficEvent, OrderFact, FunnelDay, OfferDay)
NO_SHOP_DATA = (RollupCursor,)


async def forget_shop(shop_domain: str) -> int:
    """Every analytics row of the shop; returns how many went."""
    removed = 0
    for table in SHOP_TABLES_FORGOTTEN:
        rows = await table.delete().where(table.shop_domain == shop_domain).returning(table.id)
        removed += len(rows)
    return removed
