"""Sync activity in words the merchant can act on: each CRM refusal says what to fix."""

from __future__ import annotations

from connectors.errors import Rejected
from sync.activity import plain_reason


def rejected(code: str = "validation_failed", **fields: str) -> Rejected:
    return Rejected("CRM", "refused", status_code=422, code=code, fields=fields)


def test_each_crm_refusal_reads_as_something_the_merchant_can_fix() -> None:
    duplicate = plain_reason("customer", rejected(email="A customer with this email already exists."))
    assert "already has this email" in duplicate
    phone = plain_reason("customer", rejected(phone="The phone number does not match the format of GB."))
    assert "phone number is not valid" in phone
    assert "GB" in phone
    owned = plain_reason("order", rejected("external_id_taken"))
    assert "another store" in owned
    address = plain_reason(
        "order",
        rejected(
            **{
                "shipping_address.city": "Required for the delivery address.",
                "shipping_address.postal_code": "Required for the delivery address.",
            }
        ),
    )
    assert "missing its city, postal code" in address
    pending = plain_reason("customer", rejected("customer_has_pending_orders"))
    assert "pending" in pending
