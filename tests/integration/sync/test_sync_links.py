"""Sync links under concurrent jobs: one link per entity, whoever saves it first."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from sync import links
from sync.mappers import content_hash
from sync.tables import SyncLink


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
