"""The funnels domain's enums on real databases built from the migrations: stored as their values."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest

from funnels.tables import (
    DiscountType,
    Funnel,
    FunnelStatus,
    PublishStep,
    PublishStepStatus,
    Upsell,
)
from tests.support.enum_storage import assert_database_default, assert_stored_as_values

pytestmark = pytest.mark.postgres


async def _funnel(**values: Any) -> int:
    rows = await Funnel.insert(Funnel(shop_domain="demo-store.myshopify.com", **values)).returning(Funnel.id)
    return int(rows[0]["id"])


async def _upsell(discount_type: StrEnum) -> int:
    upsell = Upsell(funnel=await _funnel(), discount_type=discount_type)
    rows = await Upsell.insert(upsell).returning(Upsell.id)
    return int(rows[0]["id"])


async def _step(status: StrEnum) -> int:
    # One step per funnel and name (a unique index): each member gets a funnel of its own.
    step = PublishStep(funnel=await _funnel(), name="campaign", status=status)
    rows = await PublishStep.insert(step).returning(PublishStep.id)
    return int(rows[0]["id"])


async def test_funnel_statuses_and_host_kinds_are_stored_as_their_values(database: None) -> None:
    await assert_stored_as_values(Funnel.status, lambda status: _funnel(status=status))
    await assert_stored_as_values(Funnel.host_kind, lambda kind: _funnel(host_kind=kind))
    await assert_database_default(Funnel.status, FunnelStatus.DRAFT)
    assert (await Funnel.select(Funnel.host_kind).where(Funnel.id == await _funnel()).first()) == {
        "host_kind": None
    }


async def test_upsell_discount_types_are_stored_as_their_values(database: None) -> None:
    await assert_stored_as_values(Upsell.discount_type, _upsell)
    await assert_database_default(Upsell.discount_type, DiscountType.NONE)


async def test_publish_step_statuses_are_stored_as_their_values(database: None) -> None:
    await assert_stored_as_values(PublishStep.status, _step)
    await assert_database_default(PublishStep.status, PublishStepStatus.PENDING)
