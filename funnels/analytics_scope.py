"""What the funnels domain tells analytics (below it): whose a live funnel is, its offers."""

from __future__ import annotations

from typing import Any

from analytics.offers import FunnelInfo, Offer
from funnels.tables import Downsell, Funnel, FunnelStatus, PublishStep, Upsell


async def shop_of_live_funnel(funnel_id: int) -> str | None:
    """The shop of a live funnel; None for an unknown, draft or archived one (the beacon then
    counts nothing)."""
    row = (
        await Funnel.select(Funnel.shop_domain)
        .where((Funnel.id == funnel_id) & (Funnel.status == FunnelStatus.LIVE))
        .first()
    )
    return str(row["shop_domain"]) if row else None


def _results(steps: list[dict[str, Any]], key: str) -> dict[str, str]:
    for step in steps:
        result = step["result"]
        if isinstance(result, dict) and isinstance(result.get(key), dict):
            return {str(k): str(v) for k, v in result[key].items()}
    return {}


async def funnels_of_shop(
    shop_domain: str, funnel_ids: list[int] | None = None, *, with_offers: bool = True
) -> list[FunnelInfo]:
    """The shop's funnels that were ever published (live or archived: their history stays),
    with the offers their last publish made (unless `with_offers` is False: the overview
    needs names only), in the order the merchant made them."""
    query = Funnel.select(
        Funnel.id, Funnel.name, Funnel.currency, Funnel.main_variant_id, Funnel.main_product
    ).where(
        (Funnel.shop_domain == shop_domain)
        & Funnel.status.is_in([FunnelStatus.LIVE, FunnelStatus.ARCHIVED, FunnelStatus.PUBLISHING])
    )
    if funnel_ids is not None:
        query = query.where(Funnel.id.is_in(funnel_ids or [-1]))
    funnels = await query.order_by(Funnel.id).output(load_json=True)
    if not funnels:
        return []
    if not with_offers:
        return [
            FunnelInfo(funnel["id"], funnel["name"] or f"Funnel {funnel['id']}", funnel["currency"])
            for funnel in funnels
        ]
    ids = [funnel["id"] for funnel in funnels]
    steps = (
        await PublishStep.select(PublishStep.funnel, PublishStep.result)
        .where(PublishStep.funnel.is_in(ids))
        .output(load_json=True)
    )
    upsells = (
        await Upsell.select(Upsell.id, Upsell.funnel, Upsell.position, Upsell.variant_id, Upsell.product)
        .where(Upsell.funnel.is_in(ids))
        .order_by(Upsell.position)
        .output(load_json=True)
    )
    downsells = {
        row["funnel"]: row
        for row in await Downsell.select(Downsell.funnel, Downsell.variant_id, Downsell.product)
        .where(Downsell.funnel.is_in(ids))
        .output(load_json=True)
    }
    found = []
    for funnel in funnels:
        own = [step for step in steps if step["funnel"] == funnel["id"]]
        products, offers = _results(own, "products"), _results(own, "offers")
        main_title = str((funnel["main_product"] or {}).get("title") or "Main offer")
        rows = [(f"funnel:{funnel['id']}:main", funnel["main_variant_id"], f"Main: {main_title}")]
        rows += [
            (
                f"upsell:{u['id']}",
                u["variant_id"],
                f"Upsell {n}: {(u['product'] or {}).get('title') or ''}".rstrip(": "),
            )
            for n, u in enumerate((u for u in upsells if u["funnel"] == funnel["id"]), start=1)
        ]
        if (downsell := downsells.get(funnel["id"])) is not None:  # offered on declining an upsell
            title = (downsell["product"] or {}).get("title") or ""
            rows.append(
                (f"downsell:{funnel['id']}", downsell["variant_id"], f"Downsell: {title}".rstrip(": "))
            )
        found.append(
            FunnelInfo(
                funnel_id=funnel["id"],
                name=funnel["name"] or f"Funnel {funnel['id']}",
                currency=funnel["currency"],
                offers=tuple(
                    Offer(position, label, offers.get(external, ""), products.get(str(variant), ""))
                    for position, (external, variant, label) in enumerate(rows)
                    if external in offers
                ),
            )
        )
    return found
