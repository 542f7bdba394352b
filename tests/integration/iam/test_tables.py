"""The identity domain's enums on real databases built from the migrations: stored as their values."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from iam.tables import AccountStatus, AccountSystem, ExternalAccount, PlanTier, Shop, ShopConnection
from tests.support.enum_storage import assert_database_default, assert_stored_as_values

pytestmark = pytest.mark.postgres


async def _shop(**values: Any) -> int:
    rows = await Shop.insert(Shop(domain=f"s{uuid.uuid4().hex[:12]}.myshopify.com", **values)).returning(
        Shop.id
    )
    return int(rows[0]["id"])


async def _account(**values: Any) -> int:
    # One account per shop and system (a unique index): each member gets a shop of its own.
    account = ExternalAccount(shop=await _shop(), **{"system": AccountSystem.CRM, **values})
    rows = await ExternalAccount.insert(account).returning(ExternalAccount.id)
    return int(rows[0]["id"])


async def test_shop_tiers_and_connections_are_stored_as_their_values(database: None) -> None:
    await assert_stored_as_values(Shop.plan_tier, lambda tier: _shop(plan_tier=tier))
    await assert_stored_as_values(Shop.connection, lambda connection: _shop(connection=connection))
    await assert_database_default(Shop.plan_tier, PlanTier.STANDARD)
    await assert_database_default(Shop.connection, ShopConnection.OAUTH)


async def test_account_systems_and_statuses_are_stored_as_their_values(database: None) -> None:
    await assert_stored_as_values(ExternalAccount.system, lambda system: _account(system=system))
    await assert_stored_as_values(ExternalAccount.status, lambda status: _account(status=status))
    await assert_database_default(ExternalAccount.status, AccountStatus.PENDING)
