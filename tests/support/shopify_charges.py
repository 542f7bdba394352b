"""Paying through Shopify's Billing API (sandbox): a paid plan, and a merchant deciding on its charge."""

from __future__ import annotations

from urllib.parse import urlsplit

from billing.plans import PlanForm
from tests.support.funnel_wizard import post_form
from tests.support.stack import Stack

PRO = PlanForm.from_data(
    {
        "code": "pro",
        "name": "Pro",
        "price": "29.00",
        "currency": "USD",
        "interval": "month",
        "trial_days": "7",
        "live_funnels_limit": "5",
        "synced_orders_limit": "5000",
        "upsells_limit": "3",
    }
)


async def subscribe_and_decide(
    stack: Stack, plan: str, decision: str, expect: tuple[str, str] = ("Pro", "29.00")
) -> str:
    """Subscribes to `plan` and decides on Shopify's confirmation page, which must show `expect`
    (the plan's name and price); returns where the app sends the merchant back to."""
    started = await post_form(stack, "/billing/subscribe", {"plan": plan})
    assert started.status_code == 303, started.text  # type: ignore[attr-defined]
    confirmation = urlsplit(started.headers["location"])  # type: ignore[attr-defined]
    page = await stack.shopify.get(confirmation.path)
    assert all(text in page.text for text in expect), page.text
    decided = await stack.shopify.post(confirmation.path.replace("/confirm", f"/{decision}"))
    assert decided.status_code == 302
    back = urlsplit(decided.headers["location"])
    returned = await stack.client.get(f"{back.path}?{back.query}")
    location: str = returned.headers["location"]
    return location
