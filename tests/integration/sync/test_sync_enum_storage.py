"""The sync domain's enums on real databases built from the migrations: stored as their values."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any

import pytest
from litestar import Litestar

from sync import links
from sync.tables import SyncActivity, SyncDirection, SyncEntity, SyncLink, SyncOutcome
from tests.conftest import lifespan_of
from tests.integration.enum_storage import assert_stored_as_values

pytestmark = pytest.mark.postgres

SHOP = "demo-store.myshopify.com"


@pytest.fixture
async def database(app: Litestar) -> AsyncIterator[None]:
    async with lifespan_of(app):
        yield


async def _link(entity_type: StrEnum) -> int:
    rows = await SyncLink.insert(SyncLink(shop_domain=SHOP, entity_type=entity_type)).returning(SyncLink.id)
    return int(rows[0]["id"])


async def _activity(**values: Any) -> int:
    columns = {
        "entity_type": SyncEntity.ORDER,
        "direction": SyncDirection.TO_CRM,
        "outcome": SyncOutcome.SYNCED,
        **values,
    }
    activity = SyncActivity(shop_domain=SHOP, entity_ref=uuid.uuid4().hex, **columns)
    rows = await SyncActivity.insert(activity).returning(SyncActivity.id)
    return int(rows[0]["id"])


async def test_link_entity_types_are_stored_as_their_values(database: None) -> None:
    await assert_stored_as_values(SyncLink.entity_type, _link)


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


async def test_activity_entity_types_directions_and_outcomes_are_stored_as_their_values(
    database: None,
) -> None:
    await assert_stored_as_values(SyncActivity.entity_type, lambda entity: _activity(entity_type=entity))
    await assert_stored_as_values(SyncActivity.direction, lambda direction: _activity(direction=direction))
    await assert_stored_as_values(SyncActivity.outcome, lambda outcome: _activity(outcome=outcome))
