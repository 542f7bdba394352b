"""Stripe's bracket form encoding, as the SDK sends it."""

from __future__ import annotations

from typing import Any

import pytest
from stripe._encode import _api_encode  # the SDK's own encoder

from sandbox.stripe.forms import FormError, encode_form, parse_form


def sdk_body(params: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return urlencode(list(_api_encode(params)))


def test_nested_brackets_become_dicts_and_lists() -> None:
    params = {
        "mode": "subscription",
        "line_items": [{"price": "price_1", "quantity": 2}, {"price": "price_2"}],
        "metadata": {"shop": "acme", "plan": "pro"},
        "subscription_data": {"trial_period_days": 14},
        "lookup_keys": ["a", "b"],
    }
    assert parse_form(sdk_body(params)) == {
        "mode": "subscription",
        "line_items": [{"price": "price_1", "quantity": "2"}, {"price": "price_2"}],
        "metadata": {"shop": "acme", "plan": "pro"},
        "subscription_data": {"trial_period_days": "14"},
        "lookup_keys": ["a", "b"],
    }


def test_empty_brackets_append_and_blank_values_are_kept() -> None:
    assert parse_form("lookup_keys[]=a&lookup_keys[]=b&metadata[gone]=") == {
        "lookup_keys": ["a", "b"],
        "metadata": {"gone": ""},
    }


def test_list_order_follows_indexes_not_arrival() -> None:
    assert parse_form("items[1][price]=b&items[0][price]=a") == {"items": [{"price": "a"}, {"price": "b"}]}


@pytest.mark.parametrize("raw", ["a]=1", "a[b=1", "a=1&a[b]=2"])
def test_malformed_names_are_refused(raw: str) -> None:
    with pytest.raises(FormError):
        parse_form(raw)


def test_encode_form_round_trips() -> None:
    params = {"recurring": {"interval": "month"}, "active": True, "items": [{"id": "si_1"}]}
    pairs = encode_form(params)
    assert ("active", "true") in pairs
    from urllib.parse import urlencode

    assert parse_form(urlencode(pairs)) == {
        "recurring": {"interval": "month"},
        "active": "true",
        "items": [{"id": "si_1"}],
    }
