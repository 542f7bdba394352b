"""Orders and fulfillments between Shopify and the CRM (seeds/003).

Shopify → CRM: customer data, line items, the delivery address (never billing), the
note as the CRM's operator comment. A line that is not a catalog product stays on the
order as a plain line and never enters the catalog. CRM → Shopify: the funnel's order
becomes a Shopify order. The CRM's later edits of that order reach it where Shopify's
Admin API lets an app edit an order: its note and delivery address. Its line items stay as
created (seeds/003), and a status Shopify's order cannot take from us is only reported.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.shopify_ids import gid, gid_of
from sync.customer_mapping import (
    Canonical,
    address_from_crm,
    address_from_graphql,
    address_from_shopify,
    shopify_address_input,
)

# Orders the app creates in Shopify carry this source name: their orders/create webhook
# is our own write coming back, not a new order for the CRM.
CRM_ORDER_SOURCE = "funnelsync-crm"


def crm_order_tag(crm_order_id: str) -> str:
    """The tag of the Shopify order made from a CRM order: how a retried create finds it."""
    return f"crm-order:{crm_order_id}"


def money(value: Any) -> str:
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return "0.00"


def shopify_order_lines(order: dict[str, Any]) -> list[Canonical]:
    return [
        {
            "variant_id": gid("ProductVariant", line["variant_id"]) if line.get("variant_id") else None,
            "name": str(line.get("name") or line.get("title") or ""),
            "sku": str(line.get("sku") or ""),
            "quantity": int(line.get("quantity") or 1),
            "price": money(line.get("price")),
        }
        for line in order.get("line_items") or []
    ]


def order_status(order: dict[str, Any]) -> str:
    """The CRM status of a Shopify order: a cancelled order (`cancelled_at` set; Shopify keeps
    its financial status, often still `pending`) is cancelled whatever else it says."""
    if order.get("cancelled_at"):
        return "cancelled"
    if order.get("fulfillment_status") == "fulfilled":
        return "fulfilled"
    return "paid" if order.get("financial_status") in {"paid", "partially_refunded"} else "pending"


def crm_order_body(
    order: dict[str, Any],
    *,
    customer_id: str,
    product_ids: dict[str, str],
    campaign_id: str | None,
) -> dict[str, Any]:
    """The CRM order of a Shopify order webhook; `product_ids` maps variant gids to CRM products."""
    items = [
        {
            "product_id": product_ids.get(line["variant_id"] or ""),
            "name": line["name"],
            "sku": line["sku"],
            "quantity": line["quantity"],
            "price": line["price"],
        }
        for line in shopify_order_lines(order)
    ]
    shipping = address_from_shopify(order.get("shipping_address"))
    shipping_phone = (order.get("shipping_address") or {}).get("phone")
    body: dict[str, Any] = {
        "external_id": gid_of("Order", order),
        "customer_id": customer_id,
        "currency": order.get("currency"),
        "items": items,
        "shipping_address": {**shipping, "phone": shipping_phone} if shipping else None,
        "operator_comment": order.get("note") or None,
        "status": order_status(order),
        "source": "shopify",
    }
    if campaign_id:
        body["campaign_id"] = campaign_id
    return body


def shopify_order_input(
    order: dict[str, Any], customer: dict[str, Any], variant_ids: dict[str, str]
) -> dict[str, Any]:
    """`OrderCreateOrderInput` for a CRM order; `variant_ids` maps CRM product ids to variant gids."""
    lines = []
    for item in order.get("items") or []:
        variant_id = variant_ids.get(str(item.get("product_id") or ""))
        line: dict[str, Any] = {"quantity": int(item.get("quantity") or 1)}
        if variant_id:
            line["variantId"] = variant_id
        else:  # not a catalog product: kept on the order as a custom line
            line |= {
                "title": str(item.get("name") or "Item"),
                "sku": item.get("sku") or None,
                "priceSet": {
                    "shopMoney": {"amount": money(item.get("price")), "currencyCode": order.get("currency")}
                },
            }
        lines.append(line)
    shipping = address_from_crm(order.get("shipping_address"))
    shipping_phone = (order.get("shipping_address") or {}).get("phone")
    body: dict[str, Any] = {
        "email": customer.get("email"),
        "phone": customer.get("phone"),
        "currency": order.get("currency"),
        "note": order.get("operator_comment"),
        "sourceName": CRM_ORDER_SOURCE,
        "tags": [crm_order_tag(str(order["id"]))],
        "financialStatus": "PAID" if order.get("status") in {"paid", "fulfilled"} else "PENDING",
        "lineItems": lines,
        "customer": {
            "toUpsert": {
                "email": customer.get("email"),
                "firstName": customer.get("first_name"),
                "lastName": customer.get("last_name"),
                "phone": customer.get("phone"),
            }
        },
    }
    address = shopify_address_input(shipping, shipping_phone)
    if address:
        body["shippingAddress"] = address
    return body


# Shopify's fulfillment statuses (the webhook's `status`) and the CRM's. Only `success` has
# shipped: `pending` and `open` are being prepared (a fulfillment service has not accepted or
# shipped it yet), `error` and `failure` could not be shipped.
CRM_FULFILLMENT_STATUSES = {
    "pending": "pending",
    "open": "pending",
    "success": "success",
    "cancelled": "cancelled",
    "error": "failed",
    "failure": "failed",
}


def crm_fulfillment_status(shopify_status: object) -> str:
    """A status Shopify adds later is not taken for shipped: it stays pending in the CRM."""
    return CRM_FULFILLMENT_STATUSES.get(str(shopify_status or "").lower(), "pending")


def crm_fulfillment_body(fulfillment: dict[str, Any]) -> dict[str, Any]:
    return {
        "external_id": gid_of("Fulfillment", fulfillment),
        "tracking_number": fulfillment.get("tracking_number"),
        "carrier": fulfillment.get("tracking_company"),
        "status": crm_fulfillment_status(fulfillment.get("status")),
    }


def _note(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _crm_delivery(order: dict[str, Any]) -> tuple[Canonical | None, str | None]:
    address = order.get("shipping_address")
    return address_from_crm(address), _note((address or {}).get("phone"))


def crm_order_content(order: dict[str, Any]) -> Canonical:
    """What of a CRM order placed in the CRM its Shopify order follows after it is made: the
    note, the delivery address and the status. Its link holds the hash of it."""
    address, phone = _crm_delivery(order)
    return {
        "note": _note(order.get("operator_comment")),
        "shipping_address": address,
        "shipping_phone": phone,
        "status": order.get("status"),
    }


def shopify_order_changes(crm_order: dict[str, Any], shopify_order: dict[str, Any]) -> dict[str, Any]:
    """The `OrderInput` fields (besides its id) that bring a Shopify order (as GraphQL reads it:
    note, shippingAddress) in line with its CRM order: the note, and the delivery address
    unless the CRM's has none. Empty when they agree."""
    changes: dict[str, Any] = {}
    note = _note(crm_order.get("operator_comment"))
    if note != _note(shopify_order.get("note")):
        changes["note"] = note
    address, phone = _crm_delivery(crm_order)
    current = address_from_graphql(shopify_order.get("shippingAddress"))
    if address is not None and (address, phone) != (
        address_from_shopify(current),
        _note((current or {}).get("phone")),
    ):
        changes["shippingAddress"] = shopify_address_input(address, phone)
    return changes


def status_not_applied(crm_order: dict[str, Any], shopify_order: dict[str, Any]) -> str | None:
    """A status of the CRM order that its Shopify order (cancelledAt, displayFinancialStatus)
    does not show and an app cannot set there: "cancelled", "paid", or None."""
    if shopify_order.get("cancelledAt"):
        return None
    status = crm_order.get("status")
    if status == "cancelled":
        return "cancelled"
    if status in {"paid", "fulfilled"} and shopify_order.get("displayFinancialStatus") == "PENDING":
        return "paid"
    return None
