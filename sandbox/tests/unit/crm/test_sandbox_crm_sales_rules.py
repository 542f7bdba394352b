"""CRM customer and order rules, and the webhook signature, without a server."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.common.errors import ApiError
from sandbox.common.webhooks import sign_payload
from sandbox.crm.sales_validation import OrderLookups, phone_problem, read_customer, read_order
from sandbox.crm.state import money


@pytest.mark.parametrize(
    ("phone", "country", "ok"),
    [
        ("+14155550123", "US", True),
        ("+14165550123", "CA", True),
        ("+447700900123", "GB", True),
        ("+4915112345678", "DE", True),
        ("+33612345678", "FR", True),
        ("+919876543210", "IN", True),
        ("+447700900123", "US", False),
        ("+14155550123", "DE", False),
        ("+81312345678", "JP", True),  # outside the table: E.164 is enough
        ("+81312345678", None, True),
        ("004915112345678", None, False),
        ("+1-415-555-0123", "US", False),
    ],
)
def test_phone_rules(phone: str, country: str | None, ok: bool) -> None:
    assert (phone_problem(phone, country) is None) is ok


def test_phone_of_the_wrong_country_names_the_country() -> None:
    assert phone_problem("+14155550123", "GB") == "The phone number does not match the format of GB."


def test_customer_errors_are_all_reported_at_once() -> None:
    body = {"email": "nope", "phone": "123", "tags": "a,b", "accepts_marketing": "yes"}
    with pytest.raises(ApiError) as raised:
        read_customer(body)
    fields = [e["field"] for e in raised.value.body["errors"]]
    assert fields == ["external_id", "email", "phone", "accepts_marketing", "tags"]


def test_blank_customer_strings_read_as_null() -> None:
    data = read_customer({"external_id": "c1", "first_name": " ", "email": "", "address": {"city": ""}})
    assert data.first_name is None
    assert data.email is None
    assert data.address is not None
    assert data.address.city is None


NOTHING = OrderLookups(product=lambda _id: None, has_customer=lambda _id: True, has_campaign=lambda _id: True)


def test_shipping_address_only_requires_its_delivery_fields() -> None:
    body = {
        "external_id": "o1",
        "customer_id": "cus_1",
        "currency": "USD",
        "items": [{"product_id": None, "name": "X", "quantity": 1, "price": "1.00"}],
        "shipping_address": {
            "first_name": "A",
            "last_name": "B",
            "address": "1 St",
            "city": "C",
            "postal_code": "1",
        },
    }
    data = read_order(body, NOTHING)
    assert data.shipping_address is not None
    assert data.shipping_address.region is None
    assert data.shipping_address.country_code is None


@pytest.mark.parametrize(
    ("amount", "text"),
    [("0", "0.00"), ("62.47", "62.47"), ("2.5", "2.50"), ("1.2345", "1.2345"), ("100.10", "100.10")],
)
def test_money_keeps_cents_and_finer_prices(amount: str, text: str) -> None:
    assert money(Decimal(amount)) == text


@given(st.binary(max_size=200), st.integers(min_value=0, max_value=2**40))
def test_signature_is_hmac_sha256_of_timestamp_dot_body(body: bytes, timestamp: int) -> None:
    expected = hmac.new(b"secret", str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    assert sign_payload("secret", body, timestamp) == f"t={timestamp},v1={expected}"
