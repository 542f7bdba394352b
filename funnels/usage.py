"""What a shop's funnels use of its plan's limits, counted for the billing page."""

from __future__ import annotations

from piccolo.query.functions.aggregate import Count

from billing.usage import FunnelUsage
from funnels.tables import Funnel, FunnelStatus, Upsell


async def funnel_usage(shop_domain: str) -> FunnelUsage:
    live = await Funnel.count().where(
        (Funnel.shop_domain == shop_domain) & (Funnel.status == FunnelStatus.LIVE)
    )
    upsells_per_funnel = (
        await Upsell.select(Upsell.funnel, Count(Upsell.id, alias="upsells"))
        .where(Upsell.funnel.shop_domain == shop_domain)
        .group_by(Upsell.funnel)
    )
    most = max((int(row["upsells"]) for row in upsells_per_funnel), default=0)
    return FunnelUsage(live_funnels=live, most_upsells_in_a_funnel=most)
