"""What analytics is told about a funnel by the funnels domain (above it): its name and offers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Offer:
    """One offer of a funnel: the page reports it by `offer_id` (the CRM offer id), orders hold
    its product (`product_id`, the CRM product id). Position 0 is the main offer."""

    position: int
    label: str
    offer_id: str
    product_id: str


@dataclass(frozen=True)
class FunnelInfo:
    funnel_id: int
    name: str
    currency: str
    offers: tuple[Offer, ...] = ()
