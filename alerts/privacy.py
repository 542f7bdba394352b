"""What alerts hold about a shop: its alert setting and the digests sent to its merchant (their
text names no customer: sync failures are told by kind and reason). shop/redact deletes both;
the operators' digests name no shop."""

from __future__ import annotations

from piccolo.table import Table

from alerts.tables import AlertDigest, AlertSetting

SHOP_TABLES_FORGOTTEN: tuple[type[Table], ...] = (AlertSetting, AlertDigest)


async def forget_shop(shop_domain: str) -> int:
    removed = 0
    for table in (AlertSetting, AlertDigest):
        removed += len(await table.delete().where(table.shop_domain == shop_domain).returning(table.id))
    return removed
