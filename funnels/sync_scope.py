"""The live funnels of a shop as the sync domain sees them: what they sell and their settings."""

from __future__ import annotations

from funnels.tables import Downsell, Funnel, FunnelStatus, PublishStep, Upsell
from sync.gate import FunnelSync


async def live_funnels(shop_domain: str) -> list[FunnelSync]:
    funnels = await Funnel.select(
        Funnel.id,
        Funnel.name,
        Funnel.currency,
        Funnel.main_variant_id,
        Funnel.fulfilled_by_crm,
        Funnel.keep_products_synced,
        Funnel.keep_orders_synced,
    ).where((Funnel.shop_domain == shop_domain) & (Funnel.status == FunnelStatus.LIVE))
    if not funnels:
        return []
    ids = [row["id"] for row in funnels]
    variants: dict[int, set[str]] = {row["id"]: {row["main_variant_id"]} for row in funnels}
    for upsell in await Upsell.select(Upsell.funnel, Upsell.variant_id).where(Upsell.funnel.is_in(ids)):
        variants[upsell["funnel"]].add(upsell["variant_id"])
    for downsell in await Downsell.select(Downsell.funnel, Downsell.variant_id).where(
        Downsell.funnel.is_in(ids)
    ):
        variants[downsell["funnel"]].add(downsell["variant_id"])
    campaigns = {
        row["funnel"]: str(row["result"].get("campaign_id") or "") or None
        for row in await PublishStep.select(PublishStep.funnel, PublishStep.result)
        .where(PublishStep.funnel.is_in(ids) & (PublishStep.name == "campaign"))
        .output(load_json=True)
    }
    return [
        FunnelSync(
            funnel_id=row["id"],
            name=row["name"],
            currency=row["currency"],
            campaign_id=campaigns.get(row["id"]),
            variant_ids=frozenset(v for v in variants[row["id"]] if v),
            fulfilled_by_crm=row["fulfilled_by_crm"],
            keep_products_synced=row["keep_products_synced"],
            keep_orders_synced=row["keep_orders_synced"],
        )
        for row in funnels
    ]
