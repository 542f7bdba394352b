"""Publishing a funnel end to end against the sandboxes: the saga, its failures and resumes."""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from collections.abc import AsyncIterator

import pytest

from analytics.tables import TrafficEvent
from funnels.analytics_scope import funnels_of_shop
from funnels.publish import JOB_PUBLISH_FUNNEL
from funnels.sync_scope import live_funnels
from funnels.tables import Funnel, PublishStep
from jobqueue.tables import Job
from jobqueue.worker import Worker
from tests.support.funnel_wizard import (
    CAMPAIGN,
    DOWNSELL,
    HOODIE,
    T_SHIRT,
    accounts_ready_and_signed_in,
    add_payment_processor,
    complete_wizard,
    counters,
    created,
    post_form,
)
from tests.support.shops import SHOP, make_queued_jobs_due
from tests.support.stack import TEMPLATES_URL, Stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with accounts_ready_and_signed_in(database_url) as running:
        yield running


async def test_publish_without_a_payment_processor_is_blocked_with_the_reason(stack: Stack) -> None:
    funnel_id = await complete_wizard(stack)
    review = await stack.client.get(f"/funnels/{funnel_id}/review")
    assert "None yet." in review.text
    refused = await post_form(stack, f"/funnels/{funnel_id}/publish")
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "Add a payment processor in the CRM" in refused.text  # type: ignore[attr-defined]
    assert await Job.count().where(Job.kind == JOB_PUBLISH_FUNNEL) == 0


async def test_publish_makes_the_funnel_live_with_one_campaign_and_one_site(stack: Stack) -> None:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    started = await post_form(stack, f"/funnels/{funnel_id}/publish")
    assert started.headers["location"] == f"/funnels/{funnel_id}/publishing"  # type: ignore[attr-defined]
    await stack.drain()

    funnel = await Funnel.select(Funnel.status, Funnel.live_url).first()
    assert funnel == {"status": "live", "live_url": f"{TEMPLATES_URL}/p/summer-tees/"}
    page = await stack.templates.get("/p/summer-tees/")
    assert page.status_code == 200
    assert "Summer launch" in page.text
    assert "Add a hoodie" in page.text
    progress = await stack.client.get(f"/funnels/{funnel_id}/publishing")
    assert "Your funnel is live" in progress.text

    campaigns = (await stack.crm.get("/_sandbox/campaigns")).json()["data"]
    assert len(campaigns) == 1
    assert len(campaigns[0]["offers"]) == 2
    assert len(campaigns[0]["processor_ids"]) == 1
    assert len((await stack.templates.get("/_sandbox/sites")).json()["data"]) == 1


async def test_a_downsell_is_its_own_crm_offer_shown_when_an_upsell_is_declined(stack: Stack) -> None:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    await post_form(stack, f"/funnels/{funnel_id}/downsell?from=review", DOWNSELL)
    review = await stack.client.get(f"/funnels/{funnel_id}/review")
    assert "Last chance: the hoodie at 30% off" in review.text
    assert "$39.20" in review.text  # 56.00 less 30 %, at the store's price now
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    await stack.drain()

    campaign = (await stack.crm.get("/_sandbox/campaigns")).json()["data"][0]
    offers = {offer["kind"]: offer for offer in campaign["offers"]}
    assert sorted(offers) == ["downsell", "main", "upsell"]
    assert offers["downsell"]["external_id"] == f"downsell:{funnel_id}"
    assert offers["downsell"]["price"] == "39.20"
    page = (await stack.templates.get("/p/summer-tees/")).text
    upsell = page.split('class="offer upsell"', 1)[1].split("</section>", 1)[0]
    assert '<a class="decline" href="#downsell" data-fs-action="decline">No, thanks</a>' in upsell
    downsell = page.split('class="offer downsell" id="downsell"', 1)[1].split("</section>", 1)[0]
    assert f'data-fs-offer="{offers["downsell"]["id"]}"' in downsell  # counted by the beacon
    assert "Last chance: the hoodie at 30% off" in downsell
    assert "$39.20" in downsell
    # Analytics counts it as an offer of its own (views, accepts by its CRM offer id).
    (info,) = await funnels_of_shop(SHOP, [funnel_id])
    assert (info.offers[-1].label, info.offers[-1].offer_id) == (
        "Downsell: Organic Hoodie",
        offers["downsell"]["id"],
    )
    # Sync keeps the downsell's product too (a funnel product).
    (live,) = await live_funnels(SHOP)
    assert HOODIE in live.variant_ids

    # Removed and published again: the CRM offer goes, and so does the block.
    await post_form(stack, f"/funnels/{funnel_id}/downsell/remove")
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    await stack.drain()
    campaign = (await stack.crm.get("/_sandbox/campaigns")).json()["data"][0]
    assert sorted(offer["kind"] for offer in campaign["offers"]) == ["main", "upsell"]
    page = (await stack.templates.get("/p/summer-tees/")).text
    assert 'class="offer downsell"' not in page
    assert 'href="#downsell"' not in page


async def test_the_live_page_reports_a_visit_through_the_signed_beacon_without_javascript(
    stack: Stack,
) -> None:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    await stack.drain()

    page = await stack.templates.get("/p/summer-tees/")
    pixel = re.search(r'<img class="fs-beacon" src="([^"]+)"', page.text)
    assert pixel is not None
    visitor = page.cookies["fs_vid"]  # first-party, on the page's origin
    assert f"v={visitor}" in html.unescape(pixel.group(1))
    assert 'data-fs-offer="' in page.text
    assert 'data-fs-action="decline"' in page.text
    app = stack.app.state.settings.app_base_url
    policy = page.headers["content-security-policy"]
    assert f"script-src {app}" in policy  # the app's beacon script only
    assert f"connect-src {app}" in policy
    counted = await stack.client.get(
        html.unescape(pixel.group(1)).removeprefix(app), headers={"User-Agent": "Mozilla/5.0 Chrome/131.0"}
    )
    assert counted.status_code == 200
    (event,) = await TrafficEvent.select(
        TrafficEvent.funnel_id, TrafficEvent.shop_domain, TrafficEvent.visitor
    )
    assert event == {"funnel_id": funnel_id, "shop_domain": SHOP, "visitor": visitor}


async def test_republish_after_an_edit_updates_in_place(stack: Stack) -> None:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    await stack.drain()
    await post_form(stack, f"/funnels/{funnel_id}/campaign", {**CAMPAIGN, "name": "Summer launch, take two"})
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    await stack.drain()
    page = await stack.templates.get("/p/summer-tees/")
    assert "Summer launch, take two" in page.text
    crm_writes = await counters(stack, "crm")
    assert created(crm_writes, "POST /api/v1/campaigns") == 1
    assert created(await counters(stack, "templates"), "POST /api/v1/sites") == 1
    assert len((await stack.crm.get("/_sandbox/campaigns")).json()["data"]) == 1


async def test_failed_step_stops_shows_why_and_retry_resumes_there(stack: Stack) -> None:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    await stack.templates.post(
        "/_sandbox/faults", json={"kind": "http_500", "count": 100, "path_prefix": "/api/v1/sites"}
    )
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    for _ in range(5):
        await make_queued_jobs_due()
        await stack.drain()
    steps = {row["name"]: row for row in await PublishStep.select()}
    assert steps["campaign"]["status"] == "done"
    assert steps["site"]["status"] == "failed"
    assert "Page builder" in steps["site"]["error"]
    assert (await Funnel.select(Funnel.status).first()) == {"status": "failed"}
    page = await stack.client.get(f"/funnels/{funnel_id}/publishing")
    assert "Publishing stopped" in page.text
    assert "Try again" in page.text

    await stack.templates.delete("/_sandbox/faults")
    retried = await post_form(stack, f"/funnels/{funnel_id}/publishing/retry")
    assert retried.status_code == 303  # type: ignore[attr-defined]
    await stack.drain()
    assert (await Funnel.select(Funnel.status).first()) == {"status": "live"}
    assert created(await counters(stack, "crm"), "POST /api/v1/campaigns") == 1
    assert len((await stack.templates.get("/_sandbox/sites")).json()["data"]) == 1


async def test_a_worker_dying_mid_saga_leaves_nothing_done_twice(stack: Stack) -> None:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    doomed = Worker(stack.app.state.worker.handlers, worker_id="doomed", lease_seconds=60)
    run = asyncio.create_task(doomed.run_once())
    # Kill it as soon as the campaign exists, before the rest of the saga ran.
    for _ in range(500):
        if await PublishStep.count().where((PublishStep.name == "campaign") & (PublishStep.status == "done")):
            break
        await asyncio.sleep(0.01)
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run
    assert (await Funnel.select(Funnel.status).first()) == {"status": "publishing"}

    # The lease runs out; another worker takes the job over and finishes the saga.
    await Job.update({Job.locked_until: Job.created_at}).where(Job.kind == JOB_PUBLISH_FUNNEL)
    await stack.drain()
    assert (await Funnel.select(Funnel.status).first()) == {"status": "live"}
    assert len((await stack.crm.get("/_sandbox/campaigns")).json()["data"]) == 1
    assert len((await stack.templates.get("/_sandbox/sites")).json()["data"]) == 1
    assert created(await counters(stack, "crm"), "POST /api/v1/campaigns") == 1


async def test_published_products_carry_every_synced_field_as_shopify_holds_it(stack: Stack) -> None:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    await stack.drain()

    products = {row["external_id"]: row for row in (await stack.crm.get("/_sandbox/products")).json()["data"]}
    t_shirt = {
        field: products[T_SHIRT].get(field) for field in ("vendor", "weight", "weight_unit", "barcode")
    }
    assert t_shirt == {
        "vendor": "Acme Outfitters",
        "weight": 180.0,
        "weight_unit": "g",
        "barcode": "770612544972",
    }
    assert products[T_SHIRT]["collections"] == ["Apparel", "Best sellers", "Home page", "Under 30"]
    assert products[T_SHIRT]["options"] == {"Size": "S", "Color": "White"}
    assert products[T_SHIRT]["url"].endswith(f"/shops/{SHOP}/products/classic-cotton-t-shirt")
    # One write per product of the funnel, by the saga: the catalog import had created them.
    assert (await counters(stack, "crm"))["PUT /api/v1/products/{product_id}"]["requests"] == 2
