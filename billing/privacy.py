"""What billing forgets of a shop or a customer, and the accounting records it keeps.

Kept after shop/redact (docs/privacy.md): the shop's subscriptions (plan, price, provider,
the provider's subscription id, statuses and dates) and the billing provider's customer id
we made for it. They hold no personal data beyond the shop's domain, and they are what the
provider's invoices and payouts are reconciled against. They go `ACCOUNTING_RETENTION` after
their last change, once the shop itself is gone. Synced-order counts only enforce the plan's
monthly limit, are never charged for, and go with the shop.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from billing.tables import Plan, PlanPrice, ProviderObject, Subscription, SyncedOrderClaim, SyncedOrderMonth
from iam.tables import Shop

# Commercial and tax law ask for accounting records to be kept for up to ten years (Germany's
# and France's commercial codes, for example): the longest of the common periods.
ACCOUNTING_RETENTION = timedelta(days=3653)

SHOP_TABLES_FORGOTTEN = (SyncedOrderMonth, SyncedOrderClaim)
SHOP_TABLES_KEPT = (Subscription, ProviderObject)
NO_SHOP_DATA = (Plan, PlanPrice)


async def forget_shop(shop_domain: str) -> int:
    """The shop's synced-order counts and claims; returns how many rows went. Its
    subscriptions and provider customer id stay for accounting."""
    months = (
        await SyncedOrderMonth.delete()
        .where(SyncedOrderMonth.shop_domain == shop_domain)
        .returning(SyncedOrderMonth.id)
    )
    claims = (
        await SyncedOrderClaim.delete()
        .where(SyncedOrderClaim.shop_domain == shop_domain)
        .returning(SyncedOrderClaim.id)
    )
    return len(months) + len(claims)


async def forget_orders(shop_domain: str, order_keys: Collection[str]) -> int:
    """The claims naming these orders (a redacted customer's). The month's count stays: the
    orders were synced, and the plan's limit still counts them."""
    if not order_keys:
        return 0
    claims = (
        await SyncedOrderClaim.delete()
        .where(
            (SyncedOrderClaim.shop_domain == shop_domain)
            & SyncedOrderClaim.order_key.is_in(sorted(order_keys))
        )
        .returning(SyncedOrderClaim.id)
    )
    return len(claims)


async def prune_accounting_records(now: datetime) -> int:
    """The kept billing records of shops that are gone (shop/redact deleted the shop) whose
    newest subscription change is older than ACCOUNTING_RETENTION; returns how many rows went."""
    cutoff = now - ACCOUNTING_RETENTION
    old = await Subscription.select(Subscription.shop_domain).where(Subscription.updated_at < cutoff)
    candidates = sorted({row["shop_domain"] for row in old})
    if not candidates:
        return 0
    still_here = {
        row["domain"] for row in await Shop.select(Shop.domain).where(Shop.domain.is_in(candidates))
    }
    recent = {
        row["shop_domain"]
        for row in await Subscription.select(Subscription.shop_domain).where(
            Subscription.shop_domain.is_in(candidates) & (Subscription.updated_at >= cutoff)
        )
    }
    gone = sorted(set(candidates) - still_here - recent)
    if not gone:
        return 0
    subscriptions = (
        await Subscription.delete().where(Subscription.shop_domain.is_in(gone)).returning(Subscription.id)
    )
    customers = (
        await ProviderObject.delete()
        .where((ProviderObject.kind == "customer") & ProviderObject.local_id.is_in(gone))
        .returning(ProviderObject.id)
    )
    return len(subscriptions) + len(customers)
