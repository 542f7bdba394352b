"""The billing domain's enums are the strings its tables hold.

Piccolo stores a member's value and reads back the plain string, so these values are what
the rows hold: renaming one would orphan the rows that hold the old string.
"""

from __future__ import annotations

from enum import StrEnum

import pytest
from piccolo.columns import Column

from billing.tables import (
    BillingInterval,
    PlanPrice,
    ProviderName,
    ProviderObject,
    ProviderObjectKind,
    Subscription,
    SubscriptionStatus,
)
from tests.support.enum_columns import assert_choices_hold

# Each column, the enum it declares (choices=), and the strings its rows hold.
STORED: list[tuple[Column, type[StrEnum], list[str]]] = [
    (PlanPrice.interval, BillingInterval, ["month", "year"]),
    (Subscription.provider, ProviderName, ["shopify", "stripe"]),
    (
        Subscription.status,
        SubscriptionStatus,
        [
            "pending",
            "active",
            "trialing",
            "past_due",
            "unpaid",
            "frozen",
            "declined",
            "cancelled",
            "expired",
            "incomplete",
            "paused",
        ],
    ),
    (ProviderObject.provider, ProviderName, ["shopify", "stripe"]),
    (ProviderObject.kind, ProviderObjectKind, ["product", "price", "customer"]),
]


@pytest.mark.parametrize(
    ("column", "enum", "values"),
    STORED,
    ids=[
        "PlanPrice.interval",
        "Subscription.provider",
        "Subscription.status",
        "ProviderObject.provider",
        "ProviderObject.kind",
    ],
)
def test_the_column_s_choices_are_the_strings_its_rows_hold(
    column: Column, enum: type[StrEnum], values: list[str]
) -> None:
    assert_choices_hold(column, enum, values)


def test_defaults_are_members() -> None:
    assert Subscription.status.default is SubscriptionStatus.PENDING
