"""Cursor pagination: opaque, stable under inserts, Shopify's page-size rules."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from graphql import GraphQLError
from hypothesis import given
from hypothesis import strategies as st

from sandbox.shopify.pagination import PageArgs, decode_cursor, encode_cursor, paginate


@dataclass(frozen=True)
class Row:
    id: int
    name: str


def page(rows: list[Row], args: PageArgs, by_name: bool = False) -> tuple[list[int], bool, bool, list[str]]:
    result = paginate(
        rows,
        args,
        record_id=lambda r: r.id,
        sort_value=(lambda r: r.name) if by_name else (lambda r: r.id),
    )
    return [r.id for r in result.items], result.has_next_page, result.has_previous_page, result.cursors


ROWS = [Row(i, f"row {i % 3}") for i in range(1, 11)]


def test_cursor_round_trips_and_is_opaque_base64() -> None:
    cursor = encode_cursor("abc", 42)
    assert "42" not in cursor
    assert decode_cursor(cursor) == ("abc", 42)


def test_garbage_cursor_is_a_graphql_error() -> None:
    with pytest.raises(GraphQLError, match="Invalid cursor"):
        decode_cursor("not-a-cursor!")


def test_a_page_size_is_required() -> None:
    with pytest.raises(GraphQLError, match="you must provide one of first or last"):
        page(ROWS, PageArgs())


def test_page_size_over_250_is_refused() -> None:
    with pytest.raises(GraphQLError, match="250"):
        page(ROWS, PageArgs(first=251))


def test_forward_pages_and_page_info() -> None:
    ids, has_next, has_prev, cursors = page(ROWS, PageArgs(first=4))
    assert (ids, has_next, has_prev) == ([1, 2, 3, 4], True, False)
    ids, has_next, has_prev, _ = page(ROWS, PageArgs(first=4, after=cursors[-1]))
    assert (ids, has_next, has_prev) == ([5, 6, 7, 8], True, True)


def test_backward_pages_with_last_and_before() -> None:
    ids, has_next, has_prev, cursors = page(ROWS, PageArgs(last=3))
    assert (ids, has_next, has_prev) == ([8, 9, 10], False, True)
    ids, _, _, _ = page(ROWS, PageArgs(last=3, before=cursors[0]))
    assert ids == [5, 6, 7]


def test_reverse_order() -> None:
    ids, _, _, cursors = page(ROWS, PageArgs(first=3, reverse=True))
    assert ids == [10, 9, 8]
    assert page(ROWS, PageArgs(first=3, after=cursors[-1], reverse=True))[0] == [7, 6, 5]


def test_ties_in_the_sort_value_are_broken_by_id() -> None:
    seen: list[int] = []
    after = None
    while True:
        ids, has_next, _, cursors = page(ROWS, PageArgs(first=2, after=after), by_name=True)
        seen += ids
        if not has_next:
            break
        after = cursors[-1]
    assert sorted(seen) == [r.id for r in ROWS]
    assert len(seen) == len(set(seen))


def test_walk_stays_exact_when_rows_are_added_before_the_cursor() -> None:
    rows = list(ROWS)
    first_ids, _, _, cursors = page(rows, PageArgs(first=5))
    rows.insert(0, Row(0, "new"))  # an offset-based cursor would repeat row 5
    next_ids, _, _, _ = page(rows, PageArgs(first=5, after=cursors[-1]))
    assert first_ids + next_ids == [r.id for r in ROWS]


@given(size=st.integers(min_value=1, max_value=12), n=st.integers(min_value=0, max_value=40))
def test_any_page_size_visits_every_row_once(size: int, n: int) -> None:
    rows = [Row(i, str(i % 4)) for i in range(n)]
    seen: list[int] = []
    after = None
    for _ in range(n + 2):
        ids, has_next, _, cursors = page(rows, PageArgs(first=size, after=after), by_name=True)
        seen += ids
        if not has_next:
            break
        after = cursors[-1]
    assert sorted(seen) == list(range(n))
