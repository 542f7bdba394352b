"""The funnels domain's enums are the strings its tables hold.

Piccolo stores a member's value and reads back the plain string, so these values are what
the rows hold: renaming one would orphan the rows that hold the old string.
"""

from __future__ import annotations

from enum import StrEnum

import pytest
from piccolo.columns import Column

from funnels.tables import (
    DiscountType,
    Downsell,
    Funnel,
    FunnelStatus,
    HostKind,
    PublishStep,
    PublishStepStatus,
    Upsell,
)
from tests.support.enum_columns import assert_choices_hold

# Each column, the enum it declares (choices=), and the strings its rows hold.
STORED: list[tuple[Column, type[StrEnum], list[str]]] = [
    (Funnel.status, FunnelStatus, ["draft", "publishing", "live", "failed", "archived"]),
    (Funnel.host_kind, HostKind, ["subdomain", "custom_domain"]),
    (Upsell.discount_type, DiscountType, ["none", "percentage", "fixed_amount"]),
    (Downsell.discount_type, DiscountType, ["none", "percentage", "fixed_amount"]),
    (PublishStep.status, PublishStepStatus, ["pending", "running", "done", "failed"]),
]


@pytest.mark.parametrize(
    ("column", "enum", "values"),
    STORED,
    ids=[
        "Funnel.status",
        "Funnel.host_kind",
        "Upsell.discount_type",
        "Downsell.discount_type",
        "PublishStep.status",
    ],
)
def test_the_column_s_choices_are_the_strings_its_rows_hold(
    column: Column, enum: type[StrEnum], values: list[str]
) -> None:
    assert_choices_hold(column, enum, values)


def test_defaults_are_members() -> None:
    assert Funnel.status.default is FunnelStatus.DRAFT
    assert Funnel.host_kind.default is None
    assert Upsell.discount_type.default is DiscountType.NONE
    assert PublishStep.status.default is PublishStepStatus.PENDING
