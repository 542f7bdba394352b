"""The live page's pure parts (funnels/livepage.py): the locale a campaign's country writes prices
in, and the price the review page expects the CRM to charge for an offer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_currency
from hypothesis import given
from hypothesis import strategies as st

from funnels.livepage import expected_offer_price, format_money, locale_for


@pytest.mark.parametrize(
    ("country", "locale"),
    [("US", "en-US"), ("DE", "de-DE"), ("FR", "fr-FR"), ("JP", "ja-JP"), ("CH", "de-CH")],
)
def test_a_campaigns_country_gives_the_locale_its_shoppers_read(country: str, locale: str) -> None:
    assert locale_for(country) == locale


def test_an_unknown_country_falls_back_to_us_english() -> None:
    assert locale_for("QQ") == "en-US"


@pytest.mark.parametrize(
    ("amount", "currency", "country", "written"),
    [
        ("19.99", "USD", "US", "$19.99"),
        ("47.60", "EUR", "DE", "47,60\xa0€"),
        ("1234.5", "GBP", "GB", "£1,234.50"),
        ("1500", "JPY", "JP", "￥1,500"),
    ],
)
def test_money_is_written_as_the_campaigns_shoppers_read_it(
    amount: str, currency: str, country: str, written: str
) -> None:
    assert format_money(amount, currency, country) == written


@pytest.mark.parametrize(
    ("price", "kind", "value", "charged"),
    [
        ("56.00", "percentage", "15", "47.60"),  # issue 17's hoodie
        ("19.99", "fixed_amount", "5.01", "14.98"),
        ("19.99", "percentage", "12.5", "17.49"),  # 17.49125: half up to the cent
        ("0.05", "percentage", "50", "0.03"),  # 0.025 rounds half up
        ("10.00", "fixed_amount", "12", "0.00"),  # never below zero
        ("24.99", "none", "0", "24.99"),
    ],
)
def test_the_review_expects_the_crms_price_for_an_offer(
    price: str, kind: str, value: str, charged: str
) -> None:
    assert expected_offer_price(Decimal(price), kind, value) == Decimal(charged)


@given(
    cents=st.integers(min_value=1, max_value=10_000_000),
    percent=st.decimals(min_value=0, max_value=100, places=2),
)
def test_a_percentage_offer_is_always_a_whole_cent_no_more_than_the_price(
    cents: int, percent: Decimal
) -> None:
    price = Decimal(cents) / 100
    charged = expected_offer_price(price, "percentage", str(percent))
    assert charged == charged.quantize(Decimal("0.01"))
    assert Decimal(0) <= charged <= price
    assert format_currency(charged, "USD", locale="en_US").startswith("$")
