"""Links between both sides (sync/links.py): one link per entity under concurrent jobs, whoever saves
it first, and keys that hold the entity type's value."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from sync import links
from sync.mappers import content_hash
from sync.tables import SyncEntity, SyncLink
from tests.support.shops import SHOP


@pytest.mark.postgres
async def test_jobs_saving_one_entity_s_link_at_once_leave_one_link_with_a_saved_content(
    client: httpx.AsyncClient,
) -> None:
    contents = [{"email": f"ann{n}@example.com"} for n in range(8)]
    await asyncio.gather(
        *(
            links.save(
                "race.myshopify.com",
                "customer",
                shopify_id="gid://shopify/Customer/1",
                crm_id="501",
                canonical=content,
            )
            for content in contents
        )
    )

    rows = await SyncLink.select(SyncLink.crm_id, SyncLink.content_hash)
    assert len(rows) == 1
    assert rows[0]["crm_id"] == "501"
    assert rows[0]["content_hash"] in {content_hash(content) for content in contents}


@pytest.mark.postgres
async def test_a_link_s_keys_hold_the_entity_type_s_value(database: None) -> None:
    await links.save(
        SHOP, SyncEntity.CUSTOMER, shopify_id="gid://shopify/Customer/1", crm_id="7", canonical={}
    )
    assert await links.by_crm_id(SHOP, "customer", "7") is not None  # as rows and keys stored before
    row = await SyncLink.select(SyncLink.shopify_key, SyncLink.crm_key).first()
    assert row == {
        "shopify_key": f"{SHOP}:customer:gid://shopify/Customer/1",
        "crm_key": f"{SHOP}:customer:7",
    }
