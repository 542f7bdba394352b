"""The catalog reaches the CRM: page by page up to 500 variants, past that through a bulk operation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from funnels.catalog_import import JOB_IMPORT_CATALOG_BULK
from sync.jobs import utcnow
from sync.tables import Job, SyncLink
from sync.topics import JOB_IMPORT_CATALOG
from tests.integration.funnels.test_wizard_first_steps import SHOP, post_form
from tests.integration.sync.sync_support import crm_writes, live_funnel, settle
from tests.stack import Stack, running_stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        running.funnel_id = await live_funnel(running)  # type: ignore[attr-defined]
        yield running


async def variants_in_crm(stack: Stack) -> int:
    return len((await stack.crm.get("/_sandbox/products")).json()["data"])


async def settle_bulk(stack: Stack) -> None:
    """Runs the import until its bulk operation is done (the sandbox takes half a second)."""
    for _ in range(100):
        await settle(stack)
        waiting = await Job.count().where((Job.kind == JOB_IMPORT_CATALOG_BULK) & (Job.status == "queued"))
        if not waiting:
            return
        # The finish webhook makes the job due at once; until then it polls every few seconds.
        await Job.update({Job.run_at: utcnow()}).where(Job.kind == JOB_IMPORT_CATALOG_BULK)
        await asyncio.sleep(0.2)
    raise AssertionError("the bulk import did not finish")


async def test_a_big_catalog_is_imported_through_a_bulk_operation(stack: Stack) -> None:
    before = await variants_in_crm(stack)
    generated = await stack.shopify.post(
        f"/_sandbox/shops/{SHOP}/catalog/generate", json={"products": 200, "variants_per_product": 3}
    )
    assert generated.status_code == 201, generated.text

    synced = await post_form(stack, f"/funnels/{stack.funnel_id}/sync/catalog")  # type: ignore[attr-defined]
    assert synced.status_code == 303  # type: ignore[attr-defined]
    await settle_bulk(stack)

    assert await variants_in_crm(stack) == before + 600
    assert await SyncLink.count().where(SyncLink.entity_type == "product") == before + 600
    bulk_runs = await Job.count().where((Job.kind == JOB_IMPORT_CATALOG_BULK) & (Job.status == "done"))
    assert bulk_runs == 1
    # The next refresh is already scheduled, once.
    assert await Job.count().where((Job.kind == JOB_IMPORT_CATALOG) & (Job.status == "queued")) == 1
    page = await stack.client.get(f"/funnels/{stack.funnel_id}/sync/")  # type: ignore[attr-defined]
    assert "Nothing failed in the last 24 hours." in page.text


async def test_a_refresh_writes_only_what_changed(stack: Stack) -> None:
    writes = await crm_writes(stack)
    edited = await stack.shopify.put(
        f"/_sandbox/shops/{SHOP}/products/8000000000002/variants/8000000000008",
        json={"barcode": "400638133393"},
    )
    assert edited.status_code == 200, edited.text
    await post_form(stack, f"/funnels/{stack.funnel_id}/sync/catalog")  # type: ignore[attr-defined]
    await settle(stack)

    after = await crm_writes(stack)
    # The webhook or the refresh wrote the one changed variant; nothing else was rewritten.
    assert after.get("products.update", 0) - writes.get("products.update", 0) == 1
    assert after.get("products.create", 0) == writes.get("products.create", 0)


async def test_asking_twice_queues_one_import(stack: Stack) -> None:
    for _ in range(2):
        await post_form(stack, f"/funnels/{stack.funnel_id}/sync/catalog")  # type: ignore[attr-defined]
    assert await Job.count().where((Job.kind == JOB_IMPORT_CATALOG) & (Job.status == "queued")) == 1
