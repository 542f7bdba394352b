"""The Shopify access scopes the product needs: the one place they are listed.

Least privilege for what the product does (seeds 000, 001, 002): each write scope is
here because the product writes that resource; Shopify grants the matching read scope
with it.
"""

from __future__ import annotations

REQUIRED_SCOPES: dict[str, str] = {
    "write_products": "update products and variants when they change in the CRM",
    "write_customers": "keep customers in sync both ways",
    "write_orders": "create Shopify orders for funnel orders placed in the CRM",
    "write_fulfillments": "write the CRM's tracking numbers to Shopify orders",
    # An order's fulfillment orders (what fulfillmentCreate fulfils) at the shop's own
    # locations are readable and fulfillable only with this scope.
    "write_merchant_managed_fulfillment_orders": "fulfil orders shipped from your own locations",
    "read_discounts": "read the discounts your upsell offers refer to",
}


def implied(scopes: frozenset[str]) -> frozenset[str]:
    """`write_x` grants `read_x` too."""
    return scopes | {"read_" + scope.removeprefix("write_") for scope in scopes if scope.startswith("write_")}


def missing_scopes(
    granted: frozenset[str], required: frozenset[str] = frozenset(REQUIRED_SCOPES)
) -> list[str]:
    have = implied(granted)
    return sorted(scope for scope in implied(required) if scope not in have)
