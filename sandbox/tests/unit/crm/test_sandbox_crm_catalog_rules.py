"""CRM product, campaign and offer rules that need no server."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.common.errors import ApiError
from sandbox.crm.state import DiscountType, Offer, OfferKind, Product, offer_price
from sandbox.crm.validation import read_campaign, read_offer, read_product


def product(price: str = "20.00") -> Product:
    return Product(
        "prd_1", 1, "usr_1", "v1", "p1", "", "Mug", price, "USD", None, None, None, None, {}, True, None,
        None, None, 0.0, 0.0,
    )  # fmt: skip


def offer(discount_type: DiscountType, value: str) -> Offer:
    return Offer(
        "ofr_1", 2, "usr_1", "cmp_1", "o1", "prd_1", OfferKind.MAIN, 0, "", discount_type, value, 0, 0
    )


def errors(raised: pytest.ExceptionInfo[ApiError]) -> list[str]:
    return [e["field"] for e in raised.value.body["errors"]]


@pytest.mark.parametrize(
    ("discount_type", "value", "price"),
    [
        (DiscountType.NONE, "0", "20.00"),
        (DiscountType.PERCENTAGE, "15", "17.00"),
        (DiscountType.PERCENTAGE, "33.3333", "13.33"),
        (DiscountType.PERCENTAGE, "100", "0.00"),
        (DiscountType.FIXED_AMOUNT, "19.99", "0.01"),
    ],
)
def test_offer_price_applies_the_discount_to_the_cent(
    discount_type: DiscountType, value: str, price: str
) -> None:
    assert offer_price(offer(discount_type, value), product()) == price


@given(st.decimals(min_value=0, max_value=100, places=2))
def test_percentage_offer_price_is_never_negative_nor_above_the_price(value: Any) -> None:
    price = offer_price(offer(DiscountType.PERCENTAGE, str(value)), product())
    assert 0 <= float(price) <= 20


def test_offer_defaults_to_no_discount_at_position_zero() -> None:
    data = read_offer({"external_id": "o", "product_id": "prd_1", "kind": "upsell"}, lambda _id: product())
    assert (data.discount_type, data.discount_value, data.position, data.headline) == (
        DiscountType.NONE,
        "0",
        0,
        "",
    )


def test_fixed_discount_at_the_price_is_refused() -> None:
    body = {"external_id": "o", "product_id": "prd_1", "kind": "main", "discount_type": "fixed_amount"}
    with pytest.raises(ApiError) as raised:
        read_offer({**body, "discount_value": "20"}, lambda _id: product())
    assert errors(raised) == ["discount_value"]


def test_unknown_product_is_a_product_id_error() -> None:
    with pytest.raises(ApiError) as raised:
        read_offer({"external_id": "o", "product_id": "prd_x", "kind": "main"}, lambda _id: None)
    assert errors(raised) == ["product_id"]


def test_product_weight_needs_a_unit() -> None:
    body = {"external_id": "v", "product_external_id": "p", "name": "Mug", "price": "1", "currency": "USD"}
    assert read_product(body).active is True
    with pytest.raises(ApiError) as raised:
        read_product({**body, "weight": 2})
    assert errors(raised) == ["weight_unit"]


def test_campaign_description_is_optional() -> None:
    data = read_campaign({"external_id": "f", "name": "F", "currency": "GBP", "country": "GB"})
    assert data.description == ""
