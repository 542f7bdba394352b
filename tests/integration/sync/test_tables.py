"""The sync domain's enums on real databases built from the migrations: stored as their values."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

import pytest

from sync.tables import SyncActivity, SyncDirection, SyncEntity, SyncLink, SyncOutcome
from tests.support.enum_storage import assert_stored_as_values

pytestmark = pytest.mark.postgres

SHOP = "demo-store.myshopify.com"


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


async def test_activity_entity_types_directions_and_outcomes_are_stored_as_their_values(
    database: None,
) -> None:
    await assert_stored_as_values(SyncActivity.entity_type, lambda entity: _activity(entity_type=entity))
    await assert_stored_as_values(SyncActivity.direction, lambda direction: _activity(direction=direction))
    await assert_stored_as_values(SyncActivity.outcome, lambda outcome: _activity(outcome=outcome))
