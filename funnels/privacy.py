"""What the funnels domain forgets of a shop: its funnels, their upsells, downsells, publish
steps and split tests.

Funnels hold the merchant's campaign, products and hosting, never a customer's data, so a
customer's redaction has nothing to do here.
"""

from __future__ import annotations

from funnels.tables import Downsell, Funnel, PublishStep, SplitTest, Upsell

SHOP_TABLES_FORGOTTEN = (Funnel, Upsell, Downsell, PublishStep, SplitTest)


async def forget_shop(shop_domain: str) -> int:
    """Every funnel of the shop with its offers, publish steps and split tests; returns how many
    rows went."""
    funnel_ids = [
        row["id"] for row in await Funnel.select(Funnel.id).where(Funnel.shop_domain == shop_domain)
    ]
    if not funnel_ids:
        return 0
    # Deleted outright rather than left to the foreign keys' cascade, which SQLite applies
    # only on connections that enable it.
    steps = await PublishStep.delete().where(PublishStep.funnel.is_in(funnel_ids)).returning(PublishStep.id)
    upsells = await Upsell.delete().where(Upsell.funnel.is_in(funnel_ids)).returning(Upsell.id)
    tests = await SplitTest.delete().where(SplitTest.funnel.is_in(funnel_ids)).returning(SplitTest.id)
    downsells = await Downsell.delete().where(Downsell.funnel.is_in(funnel_ids)).returning(Downsell.id)
    funnels = await Funnel.delete().where(Funnel.id.is_in(funnel_ids)).returning(Funnel.id)
    return len(steps) + len(upsells) + len(downsells) + len(tests) + len(funnels)
