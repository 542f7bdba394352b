"""Split tests through the real routes and sandboxes: start, the entry address, figures, winner."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from analytics.reports import DateRange, funnel_report
from analytics.rollup import roll_up_day
from analytics.tables import EventKind, TrafficEvent
from funnels.analytics_scope import funnels_of_shop
from funnels.split_tests import b_variant_key
from funnels.tables import Funnel, SplitTest, Upsell
from lib.clock import utcnow
from tests.support.funnel_wizard import (
    HOODIE,
    UPSELL,
    accounts_ready_and_signed_in,
    add_payment_processor,
    complete_wizard,
    post_form,
)
from tests.support.shops import OTHER_SHOP, SHOP, installed, sign_in
from tests.support.stack import TEMPLATES_URL, Stack

LIVE_URL = f"{TEMPLATES_URL}/p/summer-tees/"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    """A live funnel (`summer-tees`, one upsell: the hoodie at 20 % off) of SHOP."""
    async with accounts_ready_and_signed_in(database_url) as running:
        await add_payment_processor(running)
        running.funnel_id = await complete_wizard(running)  # type: ignore[attr-defined]
        await post_form(running, f"/funnels/{running.funnel_id}/publish")  # type: ignore[attr-defined]
        await running.drain()
        yield running


def funnel_of(stack: Stack) -> int:
    funnel_id: int = stack.funnel_id  # type: ignore[attr-defined]
    return funnel_id


async def start(stack: Stack, **form: str) -> object:
    return await post_form(stack, f"/funnels/{funnel_of(stack)}/split-tests/", form)


async def running_headline_test(stack: Stack, b_percent: str = "30") -> dict[str, Any]:
    started = await start(stack, change="headline", headline="Tees that last all summer", b_percent=b_percent)
    assert started.status_code == 303, started.text  # type: ignore[attr-defined]
    await stack.drain()
    test = await SplitTest.select().first()
    assert test is not None
    assert test["status"] == "running", test
    return test


@pytest.mark.parametrize(
    ("b_percent", "message"),
    [
        ("0", "A split of 0 % sends nobody to variant B"),
        ("100", "leaves nobody on variant A"),
        ("150", "leaves nobody on variant A"),
        ("-5", "A split of 0 % sends nobody"),
        ("half", "whole number from 1 to 99"),
        ("", "whole number from 1 to 99"),
        ("12.5", "whole number of percent"),
    ],
)
async def test_a_split_outside_1_to_99_is_refused_with_the_reason_and_nothing_starts(
    stack: Stack, b_percent: str, message: str
) -> None:
    refused = await start(stack, change="headline", headline="Tees that last", b_percent=b_percent)
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert message in refused.text  # type: ignore[attr-defined]
    assert 'value="Tees that last"' in refused.text  # type: ignore[attr-defined]  # input kept
    assert await SplitTest.count() == 0


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"change": "headline", "headline": ""}, "Enter variant B&#39;s headline"),
        ({"change": "headline", "headline": "Tees for July"}, "other than the funnel"),
        ({"change": "template", "template_id": "tpl_classic_sales"}, "other than the funnel"),
        ({"change": "template", "template_id": "tpl_nope"}, "Choose a template for variant B"),
        ({"change": "upsell_discount", "upsell_id": "999"}, "Choose the upsell"),
        ({"change": "upsell_order"}, "needs at least two upsells"),
        ({"change": "bogus"}, "Choose what variant B changes"),
    ],
)
async def test_bad_variant_b_is_refused_and_nothing_starts(
    stack: Stack, form: dict[str, str], message: str
) -> None:
    refused = await start(stack, b_percent="50", **form)
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert message in refused.text  # type: ignore[attr-defined]
    assert await SplitTest.count() == 0


async def test_variant_b_is_published_as_its_own_site_and_the_page_shows_the_running_test(
    stack: Stack,
) -> None:
    test = await running_headline_test(stack)
    b_page = await stack.templates.get(f"/p/summer-tees-b{test['id']}/")
    assert b_page.status_code == 200
    assert "Tees that last all summer" in b_page.text
    assert "Tees that last all summer" not in (await stack.templates.get("/p/summer-tees/")).text
    # B's page reports its traffic under B's variant, signed into its beacon token.
    token = re.search(r'data-fs-token="([^"]+)"', b_page.text)
    assert token is not None
    counted = await stack.client.get(
        "/beacon",
        params={"t": token.group(1), "k": "page_view", "v": "visitor-of-b", "e": "event-0001"},
        headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36"},
    )
    assert counted.status_code == 200
    variant_b = b_variant_key(int(test["id"]))
    assert await TrafficEvent.select(TrafficEvent.variant).first() == {"variant": variant_b}
    page = await stack.client.get(f"/funnels/{funnel_of(stack)}/split-tests/")
    assert "Running test: headline" in page.text
    assert "Two-proportion z-test" in page.text
    assert "Not enough data yet" in page.text
    again = await start(stack, change="headline", headline="Another", b_percent="50")
    assert "already runs a split test" in again.text  # type: ignore[attr-defined]


async def test_the_entry_address_keeps_each_visitor_on_one_variant_and_respects_the_split(
    stack: Stack,
) -> None:
    test = await running_headline_test(stack, b_percent="30")
    b_url = str(test["b_url"])
    entry = f"/go/{funnel_of(stack)}"

    first = await stack.client.get(entry)
    assert first.status_code == 302
    cookie = first.cookies["fs_visitor"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cookie)
    assert "HttpOnly" in first.headers["set-cookie"]
    for _ in range(5):  # the same id: the same variant, every time
        again = await stack.client.get(entry)
        assert again.headers["location"] == first.headers["location"]
        assert "fs_visitor" not in again.headers.get("set-cookie", "")  # kept, not replaced

    to_b = 0
    visitors = 400
    for n in range(visitors):
        stack.client.cookies.set("fs_visitor", f"visitor-{n:04d}-xxxxxxxxxxxx")
        sent = await stack.client.get(entry)
        assert sent.headers["location"] in (LIVE_URL, b_url)
        to_b += sent.headers["location"] == b_url
    # 30 % of 400 = 120; ±4 standard deviations (sqrt(400 * .3 * .7) ≈ 9.2) of a fair hash.
    assert 83 <= to_b <= 157, to_b


@pytest.mark.postgres
async def test_each_variants_figures_add_up_to_the_funnels(stack: Stack) -> None:
    test = await running_headline_test(stack)
    funnel_id = funnel_of(stack)
    (info,) = await funnels_of_shop(SHOP, [funnel_id])
    main_offer = next(offer.offer_id for offer in info.offers if offer.position == 0)
    day = utcnow().date()
    at = utcnow()
    b_key = b_variant_key(int(test["id"]))
    for n in range(30):
        variant = b_key if n % 3 == 0 else ""
        for kind, offer in [(EventKind.PAGE_VIEW, "")] + (
            [(EventKind.OFFER_ACCEPT, main_offer)] if n % 4 == 0 else []
        ):
            await TrafficEvent.insert(
                TrafficEvent(
                    event_key=f"{funnel_id}:v{n}:{kind}",
                    shop_domain=SHOP,
                    funnel_id=funnel_id,
                    variant=variant,
                    kind=kind.value,
                    offer=offer,
                    visitor=f"v{n}",
                    occurred_at=at,
                )
            )
    await roll_up_day(SHOP, funnel_id, day)

    page = await stack.client.get(f"/funnels/{funnel_id}/split-tests/")
    rows = re.findall(
        r'<th scope="row" data-label="Variant">([^<]+)</th>\s*<td data-label="Visits">(\d+)</td>'
        r'<td data-label="Bought the main offer">(\d+)</td>',
        page.text,
    )
    figures = {label.split(" ")[0]: (int(visits), int(bought)) for label, visits, bought in rows}
    assert figures["A"] == (20, 5)  # n not divisible by 3; accepts at n = 4, 8, 16, 20, 28
    assert figures["B"] == (10, 3)  # n = 0, 3, …, 27; accepts at n = 0, 12, 24
    report = await funnel_report(SHOP, info, DateRange(day - timedelta(days=1), day))
    assert figures["A"][0] + figures["B"][0] == report.totals.visits == figures["Both"][0]
    main = next(o for o in report.offers if o.offer.offer_id == main_offer)
    assert figures["A"][1] + figures["B"][1] == main.accepts == figures["Both"][1]


@pytest.mark.postgres
async def test_choosing_b_makes_its_change_the_funnel_ends_the_test_and_keeps_it_in_history(
    stack: Stack,
) -> None:
    test = await running_headline_test(stack)
    funnel_id = funnel_of(stack)
    chosen = await post_form(stack, f"/funnels/{funnel_id}/split-tests/{test['id']}/winner", {"winner": "b"})
    assert chosen.status_code == 303  # type: ignore[attr-defined]
    await stack.drain()

    ended = await SplitTest.select(SplitTest.status, SplitTest.winner, SplitTest.results).first()
    assert ended is not None
    assert (ended["status"], ended["winner"]) == ("ended", "b")
    funnel = await Funnel.select(Funnel.status, Funnel.description).where(Funnel.id == funnel_id).first()
    assert funnel == {"status": "live", "description": "Tees that last all summer"}
    assert "Tees that last all summer" in (await stack.templates.get("/p/summer-tees/")).text
    assert (await stack.templates.get(f"/p/summer-tees-b{test['id']}/")).status_code == 404
    # Everyone goes to the funnel's page again.
    assert (await stack.client.get(f"/go/{funnel_id}")).headers["location"] == LIVE_URL
    page = await stack.client.get(f"/funnels/{funnel_id}/split-tests/")
    assert "Winner: <strong>variant B</strong>" in page.text
    assert "Start a test" in page.text
    again = await post_form(stack, f"/funnels/{funnel_id}/split-tests/{test['id']}/winner", {"winner": "a"})
    assert again.status_code == 400  # type: ignore[attr-defined]
    assert "not running" in again.text  # type: ignore[attr-defined]


@pytest.mark.postgres
async def test_a_discount_test_sells_b_through_its_own_crm_offer_until_a_wins(stack: Stack) -> None:
    funnel_id = funnel_of(stack)
    upsell = await Upsell.select(Upsell.id).first()
    assert upsell is not None
    started = await start(
        stack,
        change="upsell_discount",
        upsell_id=str(upsell["id"]),
        discount_type="percentage",
        discount_value="40",
        b_percent="50",
    )
    assert started.status_code == 303, started.text  # type: ignore[attr-defined]
    await stack.drain()
    test = await SplitTest.select().first()
    assert test is not None
    b_page = (await stack.templates.get(f"/p/summer-tees-b{test['id']}/")).text
    assert "$33.60" in b_page  # the hoodie, 56.00 less 40 %, as the CRM charges B's offer
    assert "$44.80" in (await stack.templates.get("/p/summer-tees/")).text  # A: 20 % off
    offers = (await stack.crm.get("/_sandbox/campaigns")).json()["data"][0]["offers"]
    assert sum(o["external_id"].startswith("split:") for o in offers) == 1

    await post_form(stack, f"/funnels/{funnel_id}/split-tests/{test['id']}/winner", {"winner": "a"})
    await stack.drain()
    offers = (await stack.crm.get("/_sandbox/campaigns")).json()["data"][0]["offers"]
    assert not any(o["external_id"].startswith("split:") for o in offers)
    assert (await Upsell.select(Upsell.discount_value).first()) == {
        "discount_value": UPSELL["discount_value"]
    }
    assert HOODIE  # the upsell's product is unchanged


async def test_another_shops_funnel_has_no_split_tests_for_this_merchant(stack: Stack) -> None:
    test = await running_headline_test(stack)
    funnel_id = funnel_of(stack)
    await installed(stack, OTHER_SHOP)
    await sign_in(stack.client, OTHER_SHOP)
    assert (await stack.client.get(f"/funnels/{funnel_id}/split-tests/")).status_code == 404
    refused = await post_form(stack, f"/funnels/{funnel_id}/split-tests/{test['id']}/winner", {"winner": "b"})
    assert refused.status_code == 404  # type: ignore[attr-defined]
    assert (await SplitTest.select(SplitTest.status).first()) == {"status": "running"}


async def test_an_unknown_funnel_has_no_entry_address_nor_split_tests(stack: Stack) -> None:
    assert (await stack.client.get("/go/9999")).status_code == 404
    assert (await stack.client.get("/funnels/9999/split-tests/")).status_code == 404
    refused = await post_form(stack, "/funnels/9999/split-tests/", {"change": "headline", "b_percent": "50"})
    assert refused.status_code == 404  # type: ignore[attr-defined]
    assert await SplitTest.count() == 0


async def test_archiving_the_funnel_ends_its_test_without_a_winner_and_takes_b_offline(stack: Stack) -> None:
    test = await running_headline_test(stack)
    funnel_id = funnel_of(stack)
    archived = await post_form(stack, f"/funnels/{funnel_id}/archive")
    assert archived.status_code == 303  # type: ignore[attr-defined]
    assert (await stack.templates.get(f"/p/summer-tees-b{test['id']}/")).status_code == 404
    ended = await SplitTest.select(SplitTest.status, SplitTest.winner).first()
    assert ended == {"status": "ended", "winner": None}
    assert (await stack.client.get(f"/go/{funnel_id}")).status_code == 404
    page = await stack.client.get(f"/funnels/{funnel_id}/split-tests/")
    assert "Ended without a winner: the funnel was archived" in page.text
