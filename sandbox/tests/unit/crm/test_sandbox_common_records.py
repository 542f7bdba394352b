"""Field readers, ISO code lists and list pages shared by the CRM and template sandboxes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.common.errors import ApiError
from sandbox.common.iso_codes import COUNTRIES, CURRENCIES
from sandbox.common.records import Fields


def fields_failing(body: dict[str, Any], read: str, *args: Any, **kwargs: Any) -> list[str]:
    f = Fields(body)
    getattr(f, read)(*args, **kwargs)
    return [e.field for e in f.errors]


def test_iso_lists_hold_every_country_and_the_shop_currencies() -> None:
    assert len(COUNTRIES) == 249
    assert {"US", "GB", "DE", "CA", "AU", "FR"} <= COUNTRIES
    assert {"USD", "EUR", "GBP", "CAD", "AUD", "JPY"} <= CURRENCIES
    assert not {"XAU", "XTS", "XXX", "USN"} & CURRENCIES


@pytest.mark.parametrize("value", ["0", "19.99", "1000", "0.0001"])
def test_decimal_string_is_read_exactly(value: str) -> None:
    assert Fields({"price": value}).decimal("price") == Decimal(value)


@pytest.mark.parametrize("value", ["-1", "1e3", "19.999999", " 1", "1,00", "", 19.99, True, None])
def test_anything_but_a_plain_decimal_string_is_refused(value: object) -> None:
    assert fields_failing({"price": value}, "decimal", "price") == ["price"]


@given(st.floats(allow_nan=True, allow_infinity=False) | st.integers() | st.booleans() | st.text(max_size=5))
def test_decimal_never_accepts_a_json_number(value: object) -> None:
    f = Fields({"price": value})
    f.decimal("price")
    assert f.errors or isinstance(value, str)


def test_nested_fields_are_named_with_their_path() -> None:
    f = Fields({"host": {"kind": 3}})
    nested = f.nested("host")
    assert nested is not None
    nested.choice("kind", ["subdomain"])
    assert [e.field for e in f.errors] == ["host.kind"]
    with pytest.raises(ApiError) as raised:
        f.raise_if_any()
    assert raised.value.status_code == 422
    assert raised.value.body["errors"] == [{"field": "host.kind", "message": "Must be one of: subdomain."}]


def test_text_is_stripped_and_length_checked() -> None:
    assert Fields({"name": "  Mug "}).text("name", max_length=10) == "Mug"
    assert fields_failing({"name": "x" * 11}, "text", "name", max_length=10) == ["name"]
    assert fields_failing({}, "text", "name", max_length=10) == ["name"]
    assert Fields({}).text("d", max_length=5, min_length=0, default="") == ""


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://x.example", "//x.example", "https://"])
def test_only_http_urls_are_accepted(url: str) -> None:
    assert fields_failing({"u": url}, "url", "u") == ["u"]


def test_id_list_refuses_repeats_and_non_strings() -> None:
    assert Fields({"ids": ["a", "b"]}).id_list("ids") == ["a", "b"]
    assert fields_failing({"ids": ["a", "a"]}, "id_list", "ids") == ["ids"]
    assert fields_failing({"ids": [1]}, "id_list", "ids") == ["ids"]
    assert fields_failing({}, "id_list", "ids") == ["ids"]


def test_integer_refuses_booleans_and_floats() -> None:
    assert fields_failing({"n": True}, "integer", "n") == ["n"]
    assert fields_failing({"n": 1.5}, "integer", "n") == ["n"]
    assert fields_failing({"n": -1}, "integer", "n", minimum=0) == ["n"]
    assert Fields({"n": None}).integer("n", nullable=True) is None


@pytest.mark.parametrize("value", [2**53, -(2**64), 10**30])
def test_integers_beyond_what_json_readers_keep_exactly_are_refused(value: int) -> None:
    assert fields_failing({"n": value}, "integer", "n") == ["n"]


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 10**400, 1e13])
def test_numbers_must_be_finite_and_sane(value: float) -> None:
    assert fields_failing({"w": value}, "number", "w") == ["w"]
