"""Funnel settings through their route: saved at once (htmx or a whole form), shown on the dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from funnels.tables import Funnel
from tests.support.funnel_wizard import CAMPAIGN, new_funnel, post_form, two_shops_signed_in
from tests.support.stack import Stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with two_shops_signed_in(database_url) as running:
        yield running


async def test_funnel_settings_are_saved_immediately_and_shown_on_the_dashboard(stack: Stack) -> None:
    funnel_id = await new_funnel(stack)
    await post_form(stack, f"/funnels/{funnel_id}/campaign", CAMPAIGN)
    # htmx sends the switch that changed plus the form's ticked boxes.
    toggled = await post_form(
        stack, f"/funnels/{funnel_id}/settings/", {"setting": "fulfilled_by_crm", "fulfilled_by_crm": "on"}
    )
    assert toggled.status_code == 200  # type: ignore[attr-defined]
    assert "Fulfilled by CRM is now on" in toggled.text  # type: ignore[attr-defined]
    # Without JavaScript the whole form is posted: unticked boxes are absent.
    await post_form(
        stack, f"/funnels/{funnel_id}/settings/", {"fulfilled_by_crm": "on", "keep_orders_synced": "on"}
    )
    row = await Funnel.select(
        Funnel.fulfilled_by_crm, Funnel.keep_products_synced, Funnel.keep_orders_synced
    ).first()
    assert row == {"fulfilled_by_crm": True, "keep_products_synced": False, "keep_orders_synced": True}
    dashboard = await stack.client.get("/app/")
    assert "Fulfilled by CRM" in dashboard.text
    assert "Products not synced" in dashboard.text
    forged = await post_form(stack, f"/funnels/{funnel_id}/settings/", {"setting": "delete_everything"})
    assert forged.status_code == 400  # type: ignore[attr-defined]
