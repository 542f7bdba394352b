"""Simulated funnel traffic with its orders, for `make simulate` and the tests.

    python -m sandbox.simulate --templates http://127.0.0.1:8103 --crm http://127.0.0.1:8102 \
        [--site SITE_ID] [--visitors 400] [--days 30] [--conversion 0.06] [--take-rate 0.35] [--seed 1]

The template-service sandbox sends the page's beacon events (its control route
`/_sandbox/sites/{id}/simulate`); each purchase it reports becomes a paid CRM order of the
page's campaign, placed at the visit's time through the CRM sandbox's control API. The CRM
then sends its order webhooks to the app like any funnel order, so the app counts them
through its real order sync.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import httpx


async def simulate_traffic(
    templates: httpx.AsyncClient, crm: httpx.AsyncClient, site_id: str, **plan: Any
) -> dict[str, Any]:
    """Runs the page's traffic, then places each purchase in the CRM; the traffic's summary
    with `orders`, the CRM orders placed."""
    answer = await templates.post(f"/_sandbox/sites/{site_id}/simulate", json=plan)
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    campaigns = (await crm.get("/_sandbox/campaigns")).json()["data"]
    campaign = next(c for c in campaigns if c["id"] == result["campaign_id"])
    offers = {str(offer["id"]): offer for offer in campaign["offers"]}
    placed = []
    for purchase in result["purchases"]:
        number = purchase["visitor"]
        items = [
            {"product_id": offers[o]["product_id"], "quantity": 1, "price": str(offers[o]["price"])}
            for o in purchase["offer_ids"]
            if o in offers
        ]
        if not items:
            continue
        order = await crm.post(
            f"/_sandbox/users/{campaign['user_id']}/orders",
            json={
                "campaign_id": campaign["id"],
                "customer": {
                    "first_name": "Simulated",
                    "last_name": f"Shopper {number}",
                    "email": f"{number}@example.com",
                    "address": {
                        "first_name": "Simulated",
                        "last_name": f"Shopper {number}",
                        "address": "1 Test Street",
                        "city": "Springfield",
                        "postal_code": "62701",
                        "country_code": "US",
                    },
                },
                "items": items,
                "status": "paid",
                "placed_at": purchase["placed_at"],
            },
        )
        order.raise_for_status()
        placed.append(order.json()["order"])
    return {**result, "orders": placed}


async def _main(args: argparse.Namespace) -> int:
    async with (
        httpx.AsyncClient(base_url=args.templates, timeout=60) as templates,
        httpx.AsyncClient(base_url=args.crm, timeout=60) as crm,
    ):
        site_id = args.site
        if not site_id:
            sites = [
                s
                for s in (await templates.get("/_sandbox/sites")).json()["data"]
                if s["status"] == "published"
            ]
            if not sites:
                print("No published site: publish a funnel first.", file=sys.stderr)
                return 1
            site_id = sites[-1]["id"]
        upsells = await _upsell_count(templates, site_id)
        result = await simulate_traffic(
            templates,
            crm,
            site_id,
            visitors=args.visitors,
            days=args.days,
            conversion=args.conversion,
            take_rates=[args.take_rate] * upsells,
            seed=args.seed,
        )
    orders = len(result["orders"])
    print(f"site {site_id}: {result['visitors']} visitors, {result['events']} events, {orders} orders")
    return 0


async def _upsell_count(templates: httpx.AsyncClient, site_id: str) -> int:
    site = (await templates.get("/_sandbox/sites")).json()["data"]
    found = next((s for s in site if s["id"] == site_id), None)
    return len(((found or {}).get("content") or {}).get("upsells") or [])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Simulated traffic and orders on a published funnel page.")
    parser.add_argument("--templates", default="http://127.0.0.1:8103")
    parser.add_argument("--crm", default="http://127.0.0.1:8102")
    parser.add_argument("--site", default="")
    parser.add_argument("--visitors", type=int, default=400)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--conversion", type=float, default=0.06)
    parser.add_argument("--take-rate", type=float, default=0.35)
    parser.add_argument("--seed", type=int, default=1)
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
