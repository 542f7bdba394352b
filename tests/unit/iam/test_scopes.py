"""The access scopes the product needs: a write scope implies its read scope, missing ones are listed."""

from __future__ import annotations

from iam.scopes import REQUIRED_SCOPES, missing_scopes


def test_write_scope_implies_read_and_missing_ones_are_listed() -> None:
    assert missing_scopes(frozenset(REQUIRED_SCOPES)) == []
    assert missing_scopes(frozenset({"write_products"})) == sorted(
        [
            "write_customers",
            "read_customers",
            "write_orders",
            "read_orders",
            "write_fulfillments",
            "read_fulfillments",
            "write_merchant_managed_fulfillment_orders",
            "read_merchant_managed_fulfillment_orders",
            "read_discounts",
        ]
    )
    assert "read_products" not in missing_scopes(frozenset({"write_products"}))
