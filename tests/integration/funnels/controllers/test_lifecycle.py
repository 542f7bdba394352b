"""Archiving a published funnel and deleting a draft, through the routes, against the sandboxes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from funnels.sync_scope import live_funnels
from funnels.tables import Funnel, Upsell
from tests.support.funnel_wizard import (
    accounts_ready_and_signed_in,
    add_payment_processor,
    complete_wizard,
    new_funnel,
    post_form,
)
from tests.support.shops import OTHER_SHOP, SHOP, installed, sign_in
from tests.support.stack import Stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with accounts_ready_and_signed_in(database_url) as running:
        yield running


async def published(stack: Stack, subdomain: str = "summer-tees") -> int:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack, subdomain=subdomain)
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    await stack.drain()
    assert (await Funnel.select(Funnel.status).where(Funnel.id == funnel_id).first()) == {"status": "live"}
    return funnel_id


async def campaign_statuses(stack: Stack) -> list[str]:
    return [campaign["status"] for campaign in (await stack.crm.get("/_sandbox/campaigns")).json()["data"]]


async def test_archiving_takes_the_page_offline_stops_the_campaign_keeps_the_history(stack: Stack) -> None:
    funnel_id = await published(stack)
    confirm = await stack.client.get(f"/funnels/{funnel_id}/archive")
    assert "its campaign in the CRM stops taking new orders" in confirm.text

    archived = await post_form(stack, f"/funnels/{funnel_id}/archive")

    assert archived.headers["location"] == f"/funnels/{funnel_id}/archive"  # type: ignore[attr-defined]
    funnel = await Funnel.select(Funnel.status, Funnel.archived_at).where(Funnel.id == funnel_id).first()
    assert funnel is not None
    assert funnel["status"] == "archived"
    assert funnel["archived_at"] is not None
    assert (await stack.templates.get("/p/summer-tees/")).status_code == 404
    assert await campaign_statuses(stack) == ["inactive"]
    assert await live_funnels(SHOP) == []  # sync no longer works for it
    assert "is archived" in (await stack.client.get(f"/funnels/{funnel_id}/archive")).text
    dashboard = await stack.client.get("/app/")
    assert "Archived" in dashboard.text
    # No longer edited: its steps lead to what happened to it.
    step = await stack.client.get(f"/funnels/{funnel_id}/campaign")
    assert step.headers["location"] == f"/funnels/{funnel_id}/archive"
    # It no longer takes the free plan's one live funnel.
    await published(stack, subdomain="autumn-tees")


async def test_an_archive_that_fails_part_way_says_so_and_finishes_when_tried_again(stack: Stack) -> None:
    funnel_id = await published(stack)
    await stack.crm.post(
        "/_sandbox/faults", json={"kind": "http_500", "count": 100, "path_prefix": "/api/v1/campaigns"}
    )

    failed = await post_form(stack, f"/funnels/{funnel_id}/archive")

    assert failed.status_code == 503  # type: ignore[attr-defined]
    assert "CRM did not answer, so the funnel is not archived yet" in failed.text  # type: ignore[attr-defined]
    assert (await Funnel.select(Funnel.status).where(Funnel.id == funnel_id).first()) == {"status": "live"}
    await stack.crm.delete("/_sandbox/faults")
    retried = await post_form(stack, f"/funnels/{funnel_id}/archive")
    assert retried.status_code == 303  # type: ignore[attr-defined]
    assert await campaign_statuses(stack) == ["inactive"]
    assert await Funnel.exists().where((Funnel.id == funnel_id) & (Funnel.status == "archived"))


async def test_a_draft_is_deleted_with_its_upsells_but_a_published_funnel_is_not(stack: Stack) -> None:
    live_id = await published(stack)
    draft_id = await new_funnel(stack)

    deleted = await post_form(stack, f"/funnels/{draft_id}/delete")
    refused = await post_form(stack, f"/funnels/{live_id}/delete")

    assert deleted.headers["location"] == "/app/"  # type: ignore[attr-defined]
    assert await Funnel.exists().where(Funnel.id == draft_id) is False
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert "Archive this one instead" in refused.text  # type: ignore[attr-defined]
    assert await Funnel.exists().where(Funnel.id == live_id)
    assert await Upsell.count().where(Upsell.funnel == live_id) == 1


async def test_another_shops_funnel_cannot_be_archived_or_deleted(stack: Stack) -> None:
    live_id = await published(stack)
    draft_id = await new_funnel(stack)
    await installed(stack, OTHER_SHOP)
    await sign_in(stack.client, OTHER_SHOP)

    for path in (f"/funnels/{live_id}/archive", f"/funnels/{draft_id}/delete"):
        answer = await post_form(stack, path)
        assert answer.status_code == 404, path  # type: ignore[attr-defined]
    assert await campaign_statuses(stack) == ["active"]
    assert await Funnel.count() == 2
