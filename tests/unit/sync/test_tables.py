"""The sync domain's enums are the strings its tables hold.

Piccolo stores a member's value and reads back the plain string, so these values are what
the rows hold: renaming one would orphan the rows that hold the old string.
"""

from __future__ import annotations

from enum import StrEnum

import pytest
from piccolo.columns import Column

from sync.tables import SyncActivity, SyncDirection, SyncEntity, SyncLink, SyncOutcome
from tests.support.enum_columns import assert_choices_hold

# Each column, the enum it declares (choices=), and the strings its rows hold.
STORED: list[tuple[Column, type[StrEnum], list[str]]] = [
    (SyncLink.entity_type, SyncEntity, ["product", "customer", "order", "fulfillment"]),
    (SyncActivity.entity_type, SyncEntity, ["product", "customer", "order", "fulfillment"]),
    (SyncActivity.direction, SyncDirection, ["shopify-to-crm", "crm-to-shopify"]),
    (SyncActivity.outcome, SyncOutcome, ["synced", "rejected", "held"]),
]


@pytest.mark.parametrize(
    ("column", "enum", "values"),
    STORED,
    ids=[
        "SyncLink.entity_type",
        "SyncActivity.entity_type",
        "SyncActivity.direction",
        "SyncActivity.outcome",
    ],
)
def test_the_column_s_choices_are_the_strings_its_rows_hold(
    column: Column, enum: type[StrEnum], values: list[str]
) -> None:
    assert_choices_hold(column, enum, values)
