"""The upsells step's downsell page through the real routes, against the Shopify sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from funnels.tables import Downsell
from tests.support.funnel_wizard import (
    CAMPAIGN,
    DOWNSELL,
    HOODIE,
    OTHER_SHOPS_VARIANT,
    T_SHIRT,
    UPSELL,
    new_funnel,
    post_form,
    two_shops_signed_in,
)
from tests.support.shops import OTHER_SHOP, sign_in
from tests.support.stack import Stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with two_shops_signed_in(database_url) as running:
        yield running


async def with_an_upsell(stack: Stack) -> int:
    funnel_id = await new_funnel(stack)
    await post_form(stack, f"/funnels/{funnel_id}/campaign", CAMPAIGN)
    await post_form(stack, f"/funnels/{funnel_id}/product", {"variant_id": T_SHIRT})
    await post_form(stack, f"/funnels/{funnel_id}/upsells", UPSELL)
    return funnel_id


async def test_a_downsell_is_added_shown_replaced_and_removed(stack: Stack) -> None:
    funnel_id = await with_an_upsell(stack)
    upsells = await stack.client.get(f"/funnels/{funnel_id}/upsells")
    assert f'href="/funnels/{funnel_id}/downsell">Add a downsell</a>' in upsells.text
    page = await stack.client.get(f"/funnels/{funnel_id}/downsell")
    assert page.status_code == 200
    assert '<h1 tabindex="-1">Downsell (optional)</h1>' in page.text

    saved = await post_form(stack, f"/funnels/{funnel_id}/downsell", DOWNSELL)
    assert saved.status_code == 303  # type: ignore[attr-defined]
    assert saved.headers["location"] == f"/funnels/{funnel_id}/upsells"  # type: ignore[attr-defined]
    rows = await Downsell.select(
        Downsell.funnel,
        Downsell.headline,
        Downsell.discount_type,
        Downsell.discount_value,
        Downsell.variant_id,
    )
    assert rows == [
        {
            "funnel": funnel_id,
            "headline": DOWNSELL["headline"],
            "discount_type": "percentage",
            "discount_value": "30",
            "variant_id": HOODIE,
        }
    ]
    upsells = await stack.client.get(f"/funnels/{funnel_id}/upsells")
    assert "Last chance: the hoodie at 30% off" in upsells.text
    assert "Change downsell" in upsells.text

    # One per funnel: saving again replaces it.
    await post_form(stack, f"/funnels/{funnel_id}/downsell", {**DOWNSELL, "headline": "A tee instead?"})
    assert [row["headline"] for row in await Downsell.select(Downsell.headline)] == ["A tee instead?"]

    removed = await post_form(stack, f"/funnels/{funnel_id}/downsell/remove")
    assert removed.status_code == 303  # type: ignore[attr-defined]
    assert await Downsell.count() == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"headline": ""}, "Enter a headline"),
        ({"discount_value": "150"}, "at most 100"),
        ({"discount_value": "abc"}, "as a number"),
        ({"discount_type": "fixed_amount", "discount_value": "60"}, "less than the product"),
        ({"variant_id": ""}, "Choose the product to offer"),
        ({"variant_id": OTHER_SHOPS_VARIANT}, "not in your store"),
    ],
)
async def test_bad_downsell_input_is_explained_kept_and_not_saved(
    stack: Stack, changes: dict[str, str], message: str
) -> None:
    funnel_id = await with_an_upsell(stack)
    refused = await post_form(stack, f"/funnels/{funnel_id}/downsell", {**DOWNSELL, **changes})
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert message in refused.text  # type: ignore[attr-defined]
    kept = {**DOWNSELL, **changes}
    if kept["headline"]:
        assert f'value="{kept["headline"]}"' in refused.text  # type: ignore[attr-defined]
    assert await Downsell.count() == 0


async def test_a_downsell_needs_an_upsell_to_follow(stack: Stack) -> None:
    funnel_id = await new_funnel(stack)
    await post_form(stack, f"/funnels/{funnel_id}/campaign", CAMPAIGN)
    await post_form(stack, f"/funnels/{funnel_id}/product", {"variant_id": T_SHIRT})
    refused = await post_form(stack, f"/funnels/{funnel_id}/downsell", DOWNSELL)
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "Add an upsell first" in refused.text  # type: ignore[attr-defined]
    assert await Downsell.count() == 0


async def test_the_downsell_page_opens_only_with_the_upsells_step(stack: Stack) -> None:
    funnel_id = await new_funnel(stack)
    response = await stack.client.get(f"/funnels/{funnel_id}/downsell")
    assert response.status_code == 302
    assert response.headers["location"] == f"/funnels/{funnel_id}/campaign"


async def test_another_shops_downsell_cannot_be_read_or_changed(stack: Stack) -> None:
    funnel_id = await with_an_upsell(stack)
    await post_form(stack, f"/funnels/{funnel_id}/downsell", DOWNSELL)
    await sign_in(stack.client, OTHER_SHOP)
    assert (await stack.client.get(f"/funnels/{funnel_id}/downsell")).status_code == 404
    changed = await post_form(stack, f"/funnels/{funnel_id}/downsell", {**DOWNSELL, "headline": "Hijacked"})
    assert changed.status_code == 404  # type: ignore[attr-defined]
    removed = await post_form(stack, f"/funnels/{funnel_id}/downsell/remove")
    assert removed.status_code == 404  # type: ignore[attr-defined]
    assert [row["headline"] for row in await Downsell.select(Downsell.headline)] == [DOWNSELL["headline"]]
