"""The wizard's first three steps through the real routes, against the Shopify sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from funnels.tables import Funnel, Upsell
from tests.support.funnel_wizard import (
    CAMPAIGN,
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


async def test_a_step_cannot_be_skipped_by_url(stack: Stack) -> None:
    funnel_id = await new_funnel(stack)
    for later in ("product", "upsells", "template", "hosting", "review"):
        response = await stack.client.get(f"/funnels/{funnel_id}/{later}")
        assert response.status_code == 302
        assert response.headers["location"] == f"/funnels/{funnel_id}/campaign"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Enter a campaign name"),
        ("name", "x" * 121, "120 characters or fewer"),
        ("description", "y" * 2001, "2000 characters or fewer"),
        ("currency", "XYZ", "Choose the currency"),
        ("currency", "", "Choose the currency"),
        ("country", "ZZ", "Choose the country"),
    ],
)
async def test_bad_campaign_input_is_explained_kept_and_not_saved(
    stack: Stack, field: str, value: str, message: str
) -> None:
    funnel_id = await new_funnel(stack)
    response = await post_form(stack, f"/funnels/{funnel_id}/campaign", {**CAMPAIGN, field: value})
    assert response.status_code == 400  # type: ignore[attr-defined]
    page = response.text  # type: ignore[attr-defined]
    assert "There is a problem" in page
    assert message in page
    assert f'href="#{field}"' in page
    if field != "name":
        assert 'value="Summer launch"' in page  # what was typed survives
    row = await Funnel.select(Funnel.name, Funnel.currency).where(Funnel.id == funnel_id).first()
    assert row == {"name": "", "currency": ""}


async def test_campaign_then_main_product_then_upsells(stack: Stack) -> None:
    funnel_id = await new_funnel(stack)
    saved = await post_form(stack, f"/funnels/{funnel_id}/campaign", CAMPAIGN)
    assert saved.headers["location"] == f"/funnels/{funnel_id}/product"  # type: ignore[attr-defined]

    search = await stack.client.get(f"/funnels/{funnel_id}/product/search", params={"q": "cotton"})
    assert search.status_code == 200
    assert "Classic Cotton T-Shirt" in search.text
    assert "19.99" in search.text
    assert "in stock" in search.text

    chosen = await post_form(stack, f"/funnels/{funnel_id}/product", {"variant_id": T_SHIRT})
    assert chosen.headers["location"] == f"/funnels/{funnel_id}/upsells"  # type: ignore[attr-defined]
    funnel = await Funnel.select(Funnel.main_variant_id, Funnel.main_product).output(load_json=True).first()
    assert funnel is not None
    assert funnel["main_variant_id"] == T_SHIRT
    assert funnel["main_product"]["price"] == "19.99"

    # Leaving and coming back resumes at the first unfinished step.
    resumed = await stack.client.get(f"/funnels/{funnel_id}")
    assert resumed.headers["location"] == f"/funnels/{funnel_id}/upsells"


@pytest.mark.parametrize(
    ("variant_id", "message"),
    [
        ("gid://shopify/ProductVariant/999999", "not in your store"),
        (OTHER_SHOPS_VARIANT, "not in your store"),
        ("not-a-gid", "not in your store"),
        ("", "Choose a product"),
    ],
    ids=["unknown", "other-shop", "garbage", "empty"],
)
async def test_main_product_must_be_a_product_of_this_shop(
    stack: Stack, variant_id: str, message: str
) -> None:
    funnel_id = await new_funnel(stack)
    await post_form(stack, f"/funnels/{funnel_id}/campaign", CAMPAIGN)
    response = await post_form(stack, f"/funnels/{funnel_id}/product", {"variant_id": variant_id})
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert message in response.text  # type: ignore[attr-defined]
    assert (await Funnel.select(Funnel.main_variant_id).first()) == {"main_variant_id": None}


async def ready_for_upsells(stack: Stack) -> int:
    funnel_id = await new_funnel(stack)
    await post_form(stack, f"/funnels/{funnel_id}/campaign", CAMPAIGN)
    await post_form(stack, f"/funnels/{funnel_id}/product", {"variant_id": T_SHIRT})
    return funnel_id


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"headline": ""}, "Enter a headline"),
        ({"headline": "h" * 201}, "200 characters or fewer"),
        ({"discount_value": "150"}, "at most 100"),
        ({"discount_value": "abc"}, "as a number"),
        ({"discount_type": "fixed_amount", "discount_value": "25"}, "less than the product"),
        ({"discount_type": "bogus"}, "Choose a kind of discount"),
        ({"variant_id": OTHER_SHOPS_VARIANT}, "not in your store"),
    ],
)
async def test_bad_upsell_is_explained_and_not_added(
    stack: Stack, changes: dict[str, str], message: str
) -> None:
    funnel_id = await ready_for_upsells(stack)
    response = await post_form(stack, f"/funnels/{funnel_id}/upsells", {**UPSELL, **changes})
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert message in response.text  # type: ignore[attr-defined]
    assert await Upsell.count() == 0


async def test_upsells_are_added_reordered_removed_and_confirmed(stack: Stack) -> None:
    funnel_id = await ready_for_upsells(stack)
    refused = await post_form(stack, f"/funnels/{funnel_id}/upsells/continue")
    assert "Add at least one upsell" in refused.text  # type: ignore[attr-defined]

    for headline in ("First offer", "Second offer", "Third offer"):
        added = await post_form(stack, f"/funnels/{funnel_id}/upsells", {**UPSELL, "headline": headline})
        assert added.status_code == 303  # type: ignore[attr-defined]
    rows = await Upsell.select(Upsell.id, Upsell.headline).order_by(Upsell.position)
    ids = {row["headline"]: row["id"] for row in rows}

    await post_form(stack, f"/funnels/{funnel_id}/upsells/{ids['Third offer']}/move", {"direction": "up"})
    await post_form(stack, f"/funnels/{funnel_id}/upsells/{ids['First offer']}/remove")
    ordered = [row["headline"] for row in await Upsell.select(Upsell.headline).order_by(Upsell.position)]
    assert ordered == ["Third offer", "Second offer"]

    confirmed = await post_form(stack, f"/funnels/{funnel_id}/upsells/continue")
    assert confirmed.headers["location"] == f"/funnels/{funnel_id}/template"  # type: ignore[attr-defined]


async def test_upsells_step_shows_the_plan_limit_and_warns_once_past_it(stack: Stack) -> None:
    """The free plan publishes one upsell: the merchant learns it while adding, not at publish."""
    funnel_id = await ready_for_upsells(stack)
    empty = await stack.client.get(f"/funnels/{funnel_id}/upsells")
    assert "Your Free (shared CRM) plan publishes funnels with up to 1 upsell." in empty.text
    await post_form(stack, f"/funnels/{funnel_id}/upsells", {**UPSELL, "headline": "First offer"})
    one = await stack.client.get(f"/funnels/{funnel_id}/upsells")
    assert "more than your plan publishes" not in one.text

    await post_form(stack, f"/funnels/{funnel_id}/upsells", {**UPSELL, "headline": "Second offer"})

    page = await stack.client.get(f"/funnels/{funnel_id}/upsells")
    assert "This funnel has 2 upsells, more than your plan publishes. Remove 1" in page.text
    assert f'href="/billing/?then=/funnels/{funnel_id}/upsells">choose a bigger plan</a>' in page.text


async def test_another_shops_funnel_cannot_be_read_or_changed(stack: Stack) -> None:
    funnel_id = await new_funnel(stack)
    await post_form(stack, f"/funnels/{funnel_id}/campaign", CAMPAIGN)
    await sign_in(stack.client, OTHER_SHOP)
    for path in (f"/funnels/{funnel_id}", f"/funnels/{funnel_id}/campaign", f"/funnels/{funnel_id}/product"):
        assert (await stack.client.get(path)).status_code == 404
    changed = await post_form(stack, f"/funnels/{funnel_id}/campaign", {**CAMPAIGN, "name": "Hijacked"})
    assert changed.status_code == 404  # type: ignore[attr-defined]
    removed = await post_form(stack, f"/funnels/{funnel_id}/upsells/1/remove")
    assert removed.status_code == 404  # type: ignore[attr-defined]
    assert (await Funnel.select(Funnel.name).first()) == {"name": "Summer launch"}
