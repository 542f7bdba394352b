"""Split tests' pure rules: sticky assignment, the split, and the z-test's verdict."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnels.split_tests import (
    MIN_VISITORS_PER_VARIANT,
    VariantFigures,
    assign_variant,
    split_error,
    two_proportion_z_test,
)


@given(test_id=st.integers(1, 10**6), visitor=st.text(min_size=1, max_size=64), b_percent=st.integers(1, 99))
def test_the_same_visitor_always_gets_the_same_variant(test_id: int, visitor: str, b_percent: int) -> None:
    assert assign_variant(test_id, visitor, b_percent) == assign_variant(test_id, visitor, b_percent)


@pytest.mark.parametrize("b_percent", [1, 10, 50, 73, 99])
def test_over_many_visitors_the_split_is_respected(b_percent: int) -> None:
    visitors = 20_000
    to_b = sum(assign_variant(7, f"visitor-{n}", b_percent) == "b" for n in range(visitors))
    expected = visitors * b_percent / 100
    spread = (visitors * b_percent / 100 * (1 - b_percent / 100)) ** 0.5
    assert abs(to_b - expected) <= 4 * spread, (to_b, expected)


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ("1", False),
        ("99", False),
        ("50%", False),
        ("0", True),
        ("100", True),
        ("101", True),
        ("-1", True),
        ("", True),
        ("x", True),
        ("2.5", True),
    ],
)
def test_only_a_whole_split_from_1_to_99_is_taken(value: str, refused: bool) -> None:
    assert (split_error(value) is not None) is refused


def test_a_clear_difference_with_enough_visits_suggests_the_better_variant() -> None:
    verdict = two_proportion_z_test(VariantFigures("a", 1000, 100), VariantFigures("b", 1000, 150))
    assert verdict.suggested == "b"
    assert verdict.z is not None
    assert verdict.z > 3
    assert verdict.p_value is not None
    assert verdict.p_value < 0.001


def test_no_winner_is_suggested_before_the_minimum_sample() -> None:
    few = MIN_VISITORS_PER_VARIANT - 1
    verdict = two_proportion_z_test(VariantFigures("a", few, 1), VariantFigures("b", few, 60))
    assert not verdict.enough_data
    assert verdict.suggested is None


def test_a_small_difference_suggests_no_winner() -> None:
    verdict = two_proportion_z_test(VariantFigures("a", 500, 50), VariantFigures("b", 500, 53))
    assert verdict.enough_data
    assert verdict.suggested is None
