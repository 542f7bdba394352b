"""Simulated traffic on a published page: N visitors spread over past days, each sending the
beacon events a real browser on the page would (page view, offer views, accept or decline).

`POST /_sandbox/sites/{site_id}/simulate` with `visitors` (1..5000), `days` (1..365),
`conversion` (0..1: share of visitors who buy the main offer), `take_rates` (one 0..1 per
upsell, in page order), `seed` (the same seed gives the same traffic). The events go to the
beacon of the app that published the page (`content.analytics`), stamped with their time
(`ts`, which the app takes outside production). The answer lists the purchases the visitors
made, for the caller to place in the CRM (`sandbox/simulate.py` does), so the orders flow back
through the app's real order sync.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx

from sandbox.common.errors import FieldError, validation_failed
from sandbox.templates_service.state import Site

# Announces itself as a browser: the app does not count crawlers.
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) FunnelSyncSandbox/1.0 (simulated visitor)"
MAX_VISITORS = 5000


def _number(body: dict[str, Any], name: str, low: float, high: float, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise validation_failed([FieldError(name, f"Must be a number from {low:g} to {high:g}.")])
    return float(value)


def read_plan(body: dict[str, Any], upsells: int) -> dict[str, Any]:
    take_rates = body.get("take_rates", [0.3] * upsells)
    if not isinstance(take_rates, list) or len(take_rates) != upsells:
        raise validation_failed([FieldError("take_rates", f"Give one rate per upsell ({upsells}).")])
    for rate in take_rates:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise validation_failed([FieldError("take_rates", "Each rate is a number from 0 to 1.")])
    return {
        "visitors": int(_number(body, "visitors", 1, MAX_VISITORS, 100)),
        "days": int(_number(body, "days", 1, 365, 30)),
        "conversion": _number(body, "conversion", 0, 1, 0.05),
        "take_rates": [float(rate) for rate in take_rates],
        "seed": int(_number(body, "seed", 0, 2**31, 1)),
    }


async def simulate(site: Site, body: dict[str, Any], http: httpx.AsyncClient, now: float) -> dict[str, Any]:
    if site.published is None:
        raise validation_failed([FieldError("site", "The site is not published.")])
    content = site.published.content
    analytics = content.get("analytics")
    if not isinstance(analytics, dict) or not analytics.get("beacon_url"):
        raise validation_failed([FieldError("site", "The page carries no analytics beacon.")])
    main = content.get("main_offer") or {}
    upsells = [u for u in content.get("upsells") or [] if isinstance(u, dict)]
    plan = read_plan(body, len(upsells))
    rng = random.Random(plan["seed"])
    url, token = str(analytics["beacon_url"]), str(analytics["token"])
    today = datetime.fromtimestamp(now, tz=UTC)
    purchases = []
    sent = 0

    async def event(visitor: str, at: datetime, kind: str, offer: str = "") -> None:
        nonlocal sent
        params = {"t": token, "k": kind, "v": visitor, "ts": str(int(at.timestamp()))}
        if offer:
            params |= {"o": offer, "e": f"{visitor}-{kind}-{offer}"}
        answer = await http.get(url, params=params, headers={"User-Agent": USER_AGENT})
        answer.raise_for_status()
        sent += 1

    for index in range(plan["visitors"]):
        # Spread evenly over the UTC days, oldest first; each at a random time of its day, never ahead.
        days_back = plan["days"] - 1 - index * plan["days"] // plan["visitors"]
        day_start = datetime.combine((today - timedelta(days=days_back)).date(), time.min, tzinfo=UTC)
        span = 86_400 if days_back else max(int((today - day_start).total_seconds()) - 60, 1)
        at = day_start + timedelta(seconds=rng.randrange(span))
        visitor = f"sim{plan['seed']}v{index:06d}"
        await event(visitor, at, "page_view")
        main_offer = str(main.get("offer_id") or "")
        if main_offer:
            await event(visitor, at, "offer_view", main_offer)
        if rng.random() >= plan["conversion"]:
            continue
        taken = [main_offer] if main_offer else []
        if main_offer:
            await event(visitor, at, "offer_accept", main_offer)
        for upsell, rate in zip(upsells, plan["take_rates"], strict=True):
            offer = str(upsell.get("offer_id") or "")
            await event(visitor, at, "offer_view", offer)
            if rng.random() < rate:
                await event(visitor, at, "offer_accept", offer)
                taken.append(offer)
            else:
                await event(visitor, at, "offer_decline", offer)
        purchases.append({"visitor": visitor, "placed_at": at.isoformat(), "offer_ids": taken})
    return {
        "visitors": plan["visitors"],
        "events": sent,
        "campaign_id": content.get("crm_campaign_id"),
        "purchases": purchases,
    }
