"""Which funnel settings apply to a synced entity: the flows run only where a live funnel allows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from funnels.tables import Funnel, PublishStep, Upsell


@dataclass(frozen=True)
class FunnelSync:
    funnel_id: int
    name: str
    currency: str
    campaign_id: str | None
    variant_ids: frozenset[str]
    fulfilled_by_crm: bool
    keep_products_synced: bool
    keep_orders_synced: bool


async def live_funnels(shop_domain: str) -> list[FunnelSync]:
    funnels = await Funnel.select(
        Funnel.id,
        Funnel.name,
        Funnel.currency,
        Funnel.main_variant_id,
        Funnel.fulfilled_by_crm,
        Funnel.keep_products_synced,
        Funnel.keep_orders_synced,
    ).where((Funnel.shop_domain == shop_domain) & (Funnel.status == "live"))
    if not funnels:
        return []
    ids = [row["id"] for row in funnels]
    variants: dict[int, set[str]] = {row["id"]: {row["main_variant_id"]} for row in funnels}
    for upsell in await Upsell.select(Upsell.funnel, Upsell.variant_id).where(Upsell.funnel.is_in(ids)):
        variants[upsell["funnel"]].add(upsell["variant_id"])
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


def keeping_orders(funnels: Iterable[FunnelSync]) -> list[FunnelSync]:
    return [funnel for funnel in funnels if funnel.keep_orders_synced]


def funnel_of_order(funnels: Iterable[FunnelSync], variant_ids: Iterable[str]) -> FunnelSync | None:
    """The funnel that sold the order: the one selling its items, else the first keeping orders."""
    candidates = keeping_orders(funnels)
    sold = set(variant_ids)
    return next((f for f in candidates if f.variant_ids & sold), candidates[0] if candidates else None)


def funnel_of_campaign(funnels: Iterable[FunnelSync], campaign_id: str | None) -> FunnelSync | None:
    return next((f for f in funnels if campaign_id and f.campaign_id == campaign_id), None)
