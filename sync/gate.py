"""Which funnel settings apply to a synced entity: the flows run only where a live funnel allows.

The funnels domain (above sync) reads its own tables into FunnelSync values; the rules here
decide with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


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


def keeping_orders(funnels: Iterable[FunnelSync]) -> list[FunnelSync]:
    return [funnel for funnel in funnels if funnel.keep_orders_synced]


def funnel_of_order(funnels: Iterable[FunnelSync], variant_ids: Iterable[str]) -> FunnelSync | None:
    """The funnel that sold the order: the one selling its items, else the first keeping orders."""
    candidates = keeping_orders(funnels)
    sold = set(variant_ids)
    return next((f for f in candidates if f.variant_ids & sold), candidates[0] if candidates else None)


def funnel_of_campaign(funnels: Iterable[FunnelSync], campaign_id: str | None) -> FunnelSync | None:
    return next((f for f in funnels if campaign_id and f.campaign_id == campaign_id), None)
