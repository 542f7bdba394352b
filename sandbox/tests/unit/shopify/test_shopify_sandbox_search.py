"""Shopify search syntax: parsing and matching against the seeded catalogue."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.shopify.models import Product, ProductStatus
from sandbox.shopify.search import And, MatchAll, Not, Or, Term, parse_query
from sandbox.shopify.seed import MAIN_SHOP, build_seed_store
from sandbox.shopify.views import PRODUCT_SEARCH, search

PRODUCTS: list[Product] = list(build_seed_store(20260401).shops[MAIN_SHOP].products.values())


def titles(query: str) -> set[str]:
    return {p.title for p in search(PRODUCTS, query, PRODUCT_SEARCH)}


# -- parsing ---------------------------------------------------------------------------


def test_blank_query_matches_everything() -> None:
    assert parse_query("") == MatchAll()
    assert parse_query("   ") == MatchAll()


def test_free_text_word() -> None:
    assert parse_query("mug") == Term(None, "mug")


def test_field_term_with_prefix_wildcard() -> None:
    assert parse_query("title:sho*") == Term("title", "sho", ":", prefix=True)


def test_terms_side_by_side_are_anded() -> None:
    assert parse_query("vendor:acme status:active") == And((Term("vendor", "acme"), Term("status", "active")))


def test_explicit_and_is_the_same_as_implied() -> None:
    assert parse_query("a AND b") == parse_query("a b")


def test_and_binds_tighter_than_or() -> None:
    assert parse_query("a OR b c") == Or((Term(None, "a"), And((Term(None, "b"), Term(None, "c")))))


def test_dash_and_not_negate() -> None:
    assert parse_query("-tag:sale") == Not(Term("tag", "sale"))
    assert parse_query("NOT tag:sale") == Not(Term("tag", "sale"))


def test_quoted_phrase_keeps_spaces_and_literal_star() -> None:
    assert parse_query('title:"cotton t-shirt"') == Term("title", "cotton t-shirt")
    assert parse_query('title:"a*"') == Term("title", "a*")


def test_comparators_on_numbers_and_dates() -> None:
    assert parse_query("inventory_total:>=10") == Term("inventory_total", "10", ">=")
    assert parse_query("created_at:<2025-02-01") == Term("created_at", "2025-02-01", "<")


def test_parentheses_group() -> None:
    assert parse_query("(a OR b) c") == And((Or((Term(None, "a"), Term(None, "b"))), Term(None, "c")))


def test_unbalanced_parentheses_are_forgiven() -> None:
    assert parse_query("(a OR b") == Or((Term(None, "a"), Term(None, "b")))
    assert parse_query("a) b") == And((Term(None, "a"), Term(None, "b")))


@given(st.text(max_size=60))
def test_any_text_parses_without_error(text: str) -> None:
    parse_query(text)


# -- matching --------------------------------------------------------------------------


def test_sku_finds_exactly_its_product() -> None:
    assert titles("sku:APP001-S-WHITE") == {"Classic Cotton T-Shirt"}


def test_sku_is_case_insensitive() -> None:
    assert titles("sku:app001-s-white") == {"Classic Cotton T-Shirt"}


def test_free_text_looks_at_title_vendor_and_sku() -> None:
    assert "Stoneware Mug" in titles("stoneware")
    assert titles("Fern Apothecary") == titles("vendor:fern")
    assert titles("APP001-M") == {"Classic Cotton T-Shirt"}


def test_title_prefix_matches_any_word() -> None:
    assert titles("title:skill*") == {"Cast Iron Skillet"}


def test_title_word_matches_whole_words_only() -> None:
    assert "Classic Cotton T-Shirt" in titles("title:shirt")
    assert "Linen Button-Down Shirt" in titles("title:shirt")
    assert titles("title:shir") == set()


def test_status_filter_and_its_negation_partition_the_catalogue() -> None:
    drafts = titles("status:draft")
    assert drafts == {p.title for p in PRODUCTS if p.status is ProductStatus.DRAFT}
    assert titles("-status:draft") == {p.title for p in PRODUCTS} - drafts


def test_status_accepts_a_list_of_values() -> None:
    assert titles("status:draft,archived") == titles("status:draft OR status:archived")


def test_tag_and_product_type() -> None:
    assert titles("tag:bestseller product_type:Apparel") == {"Classic Cotton T-Shirt"}


def test_quoted_vendor_phrase() -> None:
    assert titles('vendor:"maple & co"') == {p.title for p in PRODUCTS if p.vendor == "Maple & Co"}


def test_numeric_comparison() -> None:
    big = {p.title for p in PRODUCTS if p.total_inventory > 500}
    assert titles("inventory_total:>500") == big


def test_unknown_fields_are_ignored_like_shopify() -> None:
    assert titles("colour:red") == {p.title for p in PRODUCTS}


@pytest.mark.parametrize("word", ["mug", "shirt", "gift", "zzz", "APP", "cotton"])
def test_negation_is_the_complement(word: str) -> None:
    everything = {p.title for p in PRODUCTS}
    assert titles(f"-{word}") == everything - titles(word)


@given(st.sampled_from(["title", "vendor", "tag", "sku", "status"]), st.text("abcxyz", max_size=4))
def test_or_is_the_union_of_its_sides(field: str, value: str) -> None:
    left, right = f"{field}:{value}*", "status:active"
    assert titles(f"{left} OR {right}") == titles(left) | titles(right)
