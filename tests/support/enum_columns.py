"""The check every domain's unit tests make of a column declared with an enum's choices."""

from __future__ import annotations

from enum import StrEnum

from piccolo.columns import Column


def assert_choices_hold(column: Column, enum: type[StrEnum], values: list[str]) -> None:
    """The column declares `enum`, whose values are exactly the strings its rows hold."""
    assert column._meta.choices is enum
    assert [member.value for member in enum] == values
    for member in enum:
        # What f-strings, keys and templates print, and what compares equal to a row's value.
        assert f"{member}" == str(member) == member == member.value
