"""The wizard's last steps through their routes: a forged template or a bad host is explained, not saved."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from funnels.tables import Funnel
from tests.support.funnel_wizard import (
    CAMPAIGN,
    T_SHIRT,
    UPSELL,
    accounts_ready_and_signed_in,
    add_payment_processor,
    complete_wizard,
    post_form,
)
from tests.support.stack import Stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with accounts_ready_and_signed_in(database_url) as running:
        yield running


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"host_kind": "subdomain", "subdomain": "Bad_Name!"}, "lowercase letters"),
        ({"host_kind": "subdomain", "subdomain": "taken-shop"}, "taken-shop is already taken. Try another"),
        ({"host_kind": "subdomain", "subdomain": "www"}, "www is reserved by the page service. Try another"),
        ({"host_kind": "custom_domain", "custom_domain": "https://offers.example.com"}, "without https://"),
        ({"host_kind": "custom_domain", "custom_domain": "not a domain"}, "like offers.example.com"),
        ({"host_kind": "moon"}, "Choose where your funnel is hosted"),
    ],
)
async def test_bad_hosting_is_explained(stack: Stack, data: dict[str, str], message: str) -> None:
    funnel_id = await complete_wizard(stack)
    response = await post_form(stack, f"/funnels/{funnel_id}/hosting", data)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert message in response.text  # type: ignore[attr-defined]


async def test_forged_template_id_is_refused(stack: Stack) -> None:
    funnel_id = await complete_wizard(stack)
    response = await post_form(stack, f"/funnels/{funnel_id}/template", {"template_id": "tpl_not_real"})
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "Choose one of the templates" in response.text  # type: ignore[attr-defined]
    assert (await Funnel.select(Funnel.template_id).first()) == {"template_id": "tpl_classic_sales"}


async def test_publishing_page_says_live_once_live_also_in_the_part_htmx_swaps(stack: Stack) -> None:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    publishing = await stack.client.get(f"/funnels/{funnel_id}/publishing")
    assert "<h1>Publishing Summer launch…</h1>" in publishing.text

    await stack.drain()

    page = await stack.client.get(f"/funnels/{funnel_id}/publishing")
    assert "<title>Summer launch is live · FunnelSync</title>" in page.text
    assert "<h1>Summer launch is live</h1>" in page.text
    swapped = await stack.client.get(f"/funnels/{funnel_id}/publishing/progress")
    assert "<title>Summer launch is live · FunnelSync</title>" in swapped.text
    assert "<h1>Summer launch is live</h1>" in swapped.text
    assert "hx-trigger" not in swapped.text  # polling stops


async def test_change_on_check_answers_comes_back_to_check_answers(stack: Stack) -> None:
    funnel_id = await complete_wizard(stack)
    review = await stack.client.get(f"/funnels/{funnel_id}/review")
    for slug in ("campaign", "product", "upsells", "template", "hosting"):
        assert f'href="/funnels/{funnel_id}/{slug}?from=review"' in review.text
    back = f"/funnels/{funnel_id}/review"

    step = await stack.client.get(f"/funnels/{funnel_id}/campaign?from=review")
    assert f'action="/funnels/{funnel_id}/campaign?from=review"' in step.text
    changes = {
        "campaign": {**CAMPAIGN, "name": "Summer launch, take two"},
        "product": {"variant_id": T_SHIRT},
        "upsells/continue": {},
        "template": {"template_id": "tpl_classic_sales"},
    }
    for path, data in changes.items():
        saved = await post_form(stack, f"/funnels/{funnel_id}/{path}?from=review", data)
        assert saved.headers["location"] == back, path  # type: ignore[attr-defined]
    # Adding an upsell keeps the way back; without it, the wizard goes on to the next step.
    added = await post_form(
        stack, f"/funnels/{funnel_id}/upsells?from=review", {**UPSELL, "headline": "More"}
    )
    assert added.headers["location"] == f"/funnels/{funnel_id}/upsells?from=review"  # type: ignore[attr-defined]
    onward = await post_form(stack, f"/funnels/{funnel_id}/template", {"template_id": "tpl_classic_sales"})
    assert onward.headers["location"] == f"/funnels/{funnel_id}/hosting"  # type: ignore[attr-defined]
    assert (await Funnel.select(Funnel.name).first()) == {"name": "Summer launch, take two"}
