"""The live page (funnels/livepage.py) on the in-process stack: it sells at the CRM's prices, in
the campaign's currency, and follows the store's products after publishing."""

from __future__ import annotations

import asyncio
import contextvars
import re
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from babel.numbers import format_currency

from billing.plans import FREE_PLAN
from billing.tables import Plan
from connectors.templates import TemplatesUser
from funnels import livepage
from funnels.livepage import JOB_REFRESH_LIVE_PAGE
from funnels.tables import Funnel
from jobqueue.tables import Job
from tests.support.funnel_wizard import (
    CAMPAIGN,
    HOODIE,
    T_SHIRT,
    add_payment_processor,
    new_funnel,
    post_form,
)
from tests.support.live_funnel import settle, shopify_graphql
from tests.support.shops import SHOP, install_shop, sign_in
from tests.support.stack import TEMPLATES_URL, Stack, running_stack

PAGE = "/p/summer-tees/"
# Issue 17's own example: 15 % off the hoodie, and an amount off the tee whose cents matter.
UPSELLS = (
    {"headline": "Add a hoodie", "discount_type": "percentage", "discount_value": "15", "variant_id": HOODIE},
    {
        "headline": "A second tee",
        "discount_type": "fixed_amount",
        "discount_value": "5.01",
        "variant_id": T_SHIRT,
    },
)


async def wizard(stack: Stack, campaign: dict[str, str] = CAMPAIGN) -> int:
    funnel_id = await new_funnel(stack)
    await post_form(stack, f"/funnels/{funnel_id}/campaign", campaign)
    await post_form(stack, f"/funnels/{funnel_id}/product", {"variant_id": T_SHIRT})
    for upsell in UPSELLS:
        await post_form(stack, f"/funnels/{funnel_id}/upsells", upsell)
    await post_form(stack, f"/funnels/{funnel_id}/upsells/continue")
    await post_form(stack, f"/funnels/{funnel_id}/template", {"template_id": "tpl_classic_sales"})
    await post_form(
        stack, f"/funnels/{funnel_id}/hosting", {"host_kind": "subdomain", "subdomain": "summer-tees"}
    )
    return funnel_id


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    """SHOP installed through its webhooks (so product edits reach the app), its CRM account
    with a payment processor, its merchant signed in and a funnel through the wizard
    (`stack.funnel_id`), not yet published."""
    async with running_stack(database_url) as running:
        token = (await running.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")).json()["access_token"]
        await install_shop(running.app, SHOP, access_token=token)
        await settle(running)
        await sign_in(running.client, SHOP)
        await add_payment_processor(running)
        await Plan.update({Plan.upsells_limit: len(UPSELLS)}).where(Plan.code == FREE_PLAN)
        running.funnel_id = await wizard(running)  # type: ignore[attr-defined]
        yield running


async def publish(stack: Stack) -> None:
    await post_form(stack, f"/funnels/{stack.funnel_id}/publish")  # type: ignore[attr-defined]
    await settle(stack)
    assert (await Funnel.select(Funnel.status).first()) == {"status": "live"}


async def page(stack: Stack) -> str:
    answer = await stack.templates.get(PAGE)
    assert answer.status_code == 200
    return answer.text


def page_prices(html: str) -> list[str]:
    return re.findall(r'class="offer-price">([^<]+)<', html)


async def funnel_row(*columns: Any) -> dict[str, Any]:
    row = await Funnel.select(*columns).first()
    assert row is not None
    return row


async def crm_offers(stack: Stack) -> list[dict[str, Any]]:
    campaign = (await stack.crm.get("/_sandbox/campaigns")).json()["data"][0]
    return sorted(campaign["offers"], key=lambda offer: offer["position"])


def usd(amount: str) -> str:
    return format_currency(Decimal(amount), "USD", locale="en_US")


async def product_of(stack: Stack, variant_gid: str) -> str:
    data = await shopify_graphql(
        stack, "query($id: ID!) { productVariant(id: $id) { product { id } } }", {"id": variant_gid}
    )
    return str(data["productVariant"]["product"]["id"]).rsplit("/", 1)[-1]


async def edit_variant(stack: Stack, variant_gid: str, **changes: object) -> None:
    product = await product_of(stack, variant_gid)
    edited = await stack.shopify.patch(
        f"/_sandbox/shops/{SHOP}/products/{product}",
        json={"variants": [{"id": variant_gid.rsplit("/", 1)[-1], **changes}]},
    )
    assert edited.status_code == 200, edited.text
    await settle(stack)


async def test_every_price_on_the_live_page_is_what_the_crm_charges_for_that_offer(stack: Stack) -> None:
    await publish(stack)
    html = await page(stack)
    offers = await crm_offers(stack)
    assert [offer["discount_type"] for offer in offers] == ["none", "percentage", "fixed_amount"]
    assert page_prices(html) == [usd(offer["price"]) for offer in offers]
    # The tee at 19.99 less 5.01, to the cent.
    assert offers[2]["price"] == "14.98"
    assert "$19.99" in html
    assert "You save $5.01" in html
    # A page builder's blocks, not the fields the app sends.
    assert "discount_type" not in html
    assert "percentage" not in html


async def test_a_price_edited_in_shopify_reaches_the_crm_offer_and_the_live_page(stack: Stack) -> None:
    await publish(stack)
    first_match = (await funnel_row(Funnel.page_synced_at))["page_synced_at"]
    assert page_prices(await page(stack))[0] == "$19.99"

    await edit_variant(stack, T_SHIRT, price="24.99")

    offers = await crm_offers(stack)
    assert offers[0]["price"] == "24.99"
    assert offers[2]["price"] == "19.98"  # the tee's upsell: 24.99 less 5.01
    assert page_prices(await page(stack)) == [usd(offer["price"]) for offer in offers]
    later_match = (await funnel_row(Funnel.page_synced_at))["page_synced_at"]
    assert later_match > first_match
    dashboard = await stack.client.get("/app/")
    matched = f'<time datetime="{later_match.isoformat()}">{later_match:%d %b %H:%M} UTC</time>'
    assert f"Page matched your store {matched}" in dashboard.text
    review = await stack.client.get(f"/funnels/{stack.funnel_id}/review")  # type: ignore[attr-defined]
    assert "$24.99" in review.text
    assert "$19.99" not in review.text


async def test_with_keep_products_synchronized_off_the_page_stays_as_published(stack: Stack) -> None:
    await publish(stack)
    funnel_id = stack.funnel_id  # type: ignore[attr-defined]
    await post_form(stack, f"/funnels/{funnel_id}/settings/", {"keep_orders_synced": "on"})
    await edit_variant(stack, T_SHIRT, price="24.99")
    assert page_prices(await page(stack))[0] == "$19.99"


async def test_a_sold_out_main_product_shows_sold_out_and_a_sold_out_upsell_is_left_off(stack: Stack) -> None:
    await publish(stack)
    await edit_variant(stack, HOODIE, inventoryQuantity=0)
    html = await page(stack)
    assert "Add a hoodie" not in html
    assert "A second tee" in html

    await edit_variant(stack, T_SHIRT, inventoryQuantity=0)
    html = await page(stack)
    main = html.split('class="offer main-offer"', 1)[1].split("</section>", 1)[0]
    assert "Sold out" in main
    assert 'class="buy"' not in main
    assert "A second tee" not in html


async def test_an_upsell_whose_product_is_deleted_in_shopify_leaves_the_page(stack: Stack) -> None:
    await publish(stack)
    deleted = await stack.shopify.delete(f"/_sandbox/shops/{SHOP}/products/{await product_of(stack, HOODIE)}")
    assert deleted.status_code == 204
    await settle(stack)
    html = await page(stack)
    assert "Add a hoodie" not in html
    assert "A second tee" in html


async def test_the_review_page_promises_the_address_the_page_builder_serves(stack: Stack) -> None:
    review = await stack.client.get(f"/funnels/{stack.funnel_id}/review")  # type: ignore[attr-defined]
    assert f"{TEMPLATES_URL}{PAGE}" in review.text
    assert "summer-tees.127.0.0.1" not in review.text
    await publish(stack)
    assert (await funnel_row(Funnel.live_url))["live_url"] == f"{TEMPLATES_URL}{PAGE}"


async def test_a_campaign_in_another_currency_than_the_stores_is_refused_keeping_the_input(
    stack: Stack,
) -> None:
    funnel_id = stack.funnel_id  # type: ignore[attr-defined]
    refused = await post_form(stack, f"/funnels/{funnel_id}/campaign", {**CAMPAIGN, "currency": "EUR"})
    assert refused.status_code == 400  # type: ignore[attr-defined]
    text = refused.text  # type: ignore[attr-defined]
    assert "Your store&#39;s prices are in USD: choose USD" in text
    assert '<option value="EUR" selected>' in text
    assert (await Funnel.select(Funnel.currency).first()) == {"currency": "USD"}


async def test_a_funnel_saved_in_another_currency_before_is_not_published(stack: Stack) -> None:
    funnel_id = stack.funnel_id  # type: ignore[attr-defined]
    await Funnel.update({Funnel.currency: "EUR"}).where(Funnel.id == funnel_id)
    refused = await post_form(stack, f"/funnels/{funnel_id}/publish")
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "Your store&#39;s prices are in USD" in refused.text  # type: ignore[attr-defined]
    assert (await stack.crm.get("/_sandbox/campaigns")).json()["data"] == []


# -- a live-page refresh and an archive of the same funnel, interleaved -----------------------------


async def archive(stack: Stack) -> None:
    archived = await post_form(stack, f"/funnels/{stack.funnel_id}/archive")  # type: ignore[attr-defined]
    assert archived.status_code == 303, archived.text  # type: ignore[attr-defined]


async def stays_archived(stack: Stack) -> None:
    assert (await funnel_row(Funnel.status))["status"] == "archived"
    assert (await stack.templates.get(PAGE)).status_code == 404
    campaigns = (await stack.crm.get("/_sandbox/campaigns")).json()["data"]
    assert [campaign["status"] for campaign in campaigns] == ["inactive"]


async def test_a_refresh_that_built_its_page_before_an_archive_does_not_republish_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await publish(stack)
    build = livepage.page_content

    async def archived_while_building(*args: Any, **kwargs: Any) -> Any:
        content = await build(*args, **kwargs)  # the refresh read the funnel as live ...
        await archive(stack)  # ... and the merchant archives it before the page is written
        return content

    monkeypatch.setattr(livepage, "page_content", archived_while_building)

    await edit_variant(stack, T_SHIRT, price="24.99")  # the product webhook queues the refresh

    assert await Job.count().where((Job.kind == JOB_REFRESH_LIVE_PAGE) & (Job.status == "done")) == 1
    await stays_archived(stack)


async def lock_waiters() -> int:
    rows = await Funnel.raw(
        "SELECT count(*) AS n FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return int(rows[0]["n"])


async def waiting_or_done(task: asyncio.Task[None]) -> str:
    """Polls (deadline 10 s) until the archive waits for a lock or has finished."""
    deadline = time.monotonic() + 10
    while True:
        if task.done():
            return "finished first"
        if await lock_waiters():
            return "waited"
        if time.monotonic() > deadline:
            return "stuck"
        await asyncio.sleep(0.01)


@pytest.mark.postgres
async def test_an_archive_asked_for_while_a_refresh_writes_the_page_waits_then_takes_it_offline(
    stack: Stack, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("whether the archive waits is seen in PostgreSQL's pg_stat_activity")
    await publish(stack)
    write = TemplatesUser.update_site
    archiving: list[asyncio.Task[None]] = []
    seen: list[str] = []

    async def archive_asked_for_mid_write(self: TemplatesUser, *args: Any, **kwargs: Any) -> Any:
        if not archiving:
            # Outside the refresh's transaction, as the merchant's request is.
            task = asyncio.create_task(archive(stack), context=contextvars.Context())
            archiving.append(task)
            seen.append(await waiting_or_done(task))
        return await write(self, *args, **kwargs)

    monkeypatch.setattr(TemplatesUser, "update_site", archive_asked_for_mid_write)

    await edit_variant(stack, T_SHIRT, price="24.99")
    await archiving[0]

    assert seen == ["waited"]  # for the refresh's write, which went through
    await stays_archived(stack)
