"""The identity domain's enums are the strings its tables hold.

Piccolo stores a member's value and reads back the plain string, so these values are what
the rows hold: renaming one would orphan the rows that hold the old string.
"""

from __future__ import annotations

from enum import StrEnum

import pytest
from piccolo.columns import Column

from iam.tables import AccountStatus, AccountSystem, ExternalAccount, PlanTier, Shop, ShopConnection
from tests.support.enum_columns import assert_choices_hold

# Each column, the enum it declares (choices=), and the strings its rows hold.
STORED: list[tuple[Column, type[StrEnum], list[str]]] = [
    (Shop.plan_tier, PlanTier, ["standard", "advanced", "plus", "enterprise"]),
    (Shop.connection, ShopConnection, ["oauth", "access_token"]),
    (ExternalAccount.system, AccountSystem, ["crm", "templates"]),
    (ExternalAccount.status, AccountStatus, ["pending", "ready", "failed"]),
]


@pytest.mark.parametrize(
    ("column", "enum", "values"),
    STORED,
    ids=["Shop.plan_tier", "Shop.connection", "ExternalAccount.system", "ExternalAccount.status"],
)
def test_the_column_s_choices_are_the_strings_its_rows_hold(
    column: Column, enum: type[StrEnum], values: list[str]
) -> None:
    assert_choices_hold(column, enum, values)


def test_defaults_are_members() -> None:
    assert Shop.plan_tier.default is PlanTier.STANDARD
    assert Shop.connection.default is ShopConnection.OAUTH
    assert ExternalAccount.status.default is AccountStatus.PENDING
