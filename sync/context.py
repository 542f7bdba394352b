"""What the sync flows need, handed to them explicitly by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from iam.clients import ShopClients
from iam.context import IamContext
from sync.gate import FunnelSync

# The funnels domain answers which live funnels a shop has (sync sits below it and may
# not read its tables): onboarding wires funnels.sync_scope.live_funnels in here.
LiveFunnels = Callable[[str], Awaitable[list[FunnelSync]]]
# Products (variant ids) of live funnels that changed in the store: the funnels domain keeps
# its live pages true (onboarding wires funnels.livepage.queue_page_refresh in here).
ProductsChanged = Callable[[str, frozenset[str]], Awaitable[None]]


# A CRM order of a live funnel's campaign, as the CRM's order event carries it (any source:
# placed on the live page, or a Shopify order written to the CRM): the analytics domain counts
# it (onboarding wires analytics.orders.record_order in here). Arguments: shop, funnel id, order.
OrderSeen = Callable[[str, int, dict[str, Any]], Awaitable[None]]


async def _nothing_to_count(shop_domain: str, funnel_id: int, order: dict[str, Any]) -> None:
    return None


async def _nothing_to_refresh(shop_domain: str, variant_ids: frozenset[str]) -> None:
    return None


@dataclass(frozen=True)
class SyncContext:
    iam: IamContext
    live_funnels: LiveFunnels
    # Shopify and the CRM as the shop's own: `await ctx.clients.shopify_for(shop)`.
    clients: ShopClients
    products_changed: ProductsChanged = _nothing_to_refresh
    order_seen: OrderSeen = _nothing_to_count
