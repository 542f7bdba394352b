"""Shopify's install-link signatures and shop names, checked against the documented algorithms."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.shopify_auth import valid_shop_domain, verify_query

SECRET = "hush"


def documented_query_hmac(params: dict[str, str], secret: str) -> str:
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "shop",
    [
        "evil.com",
        "x.myshopify.com.evil.com",
        "myshopify.com",
        ".myshopify.com",
        "-shop.myshopify.com",
        "sh op.myshopify.com",
        "shop.myshopify.com\n",
        "shop.myshopify.com/",
        "shop.myshopify.com?x=1",
        "sh\u043ep.myshopify.com",  # a Cyrillic "o" that looks Latin
        "shop.myshopify.com.",
        "https://shop.myshopify.com",
        "",
    ],
)
def test_foreign_or_malformed_shop_is_refused(shop: str) -> None:
    assert valid_shop_domain(shop) is None


def test_shop_name_is_at_most_sixty_characters() -> None:
    assert valid_shop_domain(f"{'a' * 60}.myshopify.com") == f"{'a' * 60}.myshopify.com"
    assert valid_shop_domain(f"{'a' * 61}.myshopify.com") is None
    assert valid_shop_domain(f"{'a' * 100_000}.myshopify.com") is None


def test_shop_domain_is_canonicalised_to_lowercase() -> None:
    assert valid_shop_domain("Demo-Store.myshopify.com") == "demo-store.myshopify.com"


@given(name=st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,30}\Z"))
def test_every_well_formed_shop_name_is_accepted(name: str) -> None:
    assert valid_shop_domain(f"{name}.myshopify.com") == f"{name}.myshopify.com"


@given(
    params=st.dictionaries(
        st.text("abcdefghijklmnop_", min_size=1, max_size=10).filter(
            lambda k: k not in ("hmac", "timestamp")
        ),
        st.text(max_size=20),
        max_size=5,
    )
)
def test_query_signed_the_documented_way_verifies(params: dict[str, str]) -> None:
    signed = {**params, "timestamp": "1000"}
    signed["hmac"] = documented_query_hmac(signed, SECRET)
    assert verify_query(signed, [SECRET], now=1000) is None
    assert verify_query(signed, ["other-secret"], now=1000) == "the signature does not match"


def test_query_outside_the_time_window_or_unsigned_is_refused() -> None:
    signed = {"shop": "a.myshopify.com", "timestamp": "1000"}
    signed["hmac"] = documented_query_hmac(signed, SECRET)
    assert verify_query(signed, [SECRET], now=1000 + 91) == "the request is too old"
    assert verify_query(signed, [SECRET], now=1000 - 91) == "the request is too old"
    assert verify_query({"shop": "a.myshopify.com"}, [SECRET], now=1000) == "the request is not signed"
