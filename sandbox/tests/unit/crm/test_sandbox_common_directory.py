"""Member validation, cursors and pagination shared by CRM users and template accounts."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sandbox.common.directory import (
    DEFAULT_PAGE_SIZE,
    Directory,
    MemberInput,
    decode_cursor,
    encode_cursor,
    parse_page_args,
    validate_member,
)
from sandbox.common.errors import FieldError

VALID = {
    "external_id": "acme.myshopify.com",
    "email": "owner@acme.example",
    "name": "Acme Owner",
    "shop_domain": "acme.myshopify.com",
}


def fields_of(result: object) -> set[str]:
    assert isinstance(result, list)
    return {e.field for e in result if isinstance(e, FieldError)}


def test_valid_member_is_accepted_and_trimmed() -> None:
    result = validate_member({**VALID, "name": "  Acme Owner  ", "extra": "ignored"})
    assert result == MemberInput(
        "acme.myshopify.com", "owner@acme.example", "Acme Owner", "acme.myshopify.com"
    )


def test_every_missing_field_is_reported() -> None:
    assert fields_of(validate_member({})) == set(VALID)


def test_wrong_types_blank_and_bad_formats_are_reported() -> None:
    result = validate_member(
        {"external_id": 5, "email": "x@", "name": "   ", "shop_domain": "acme.example.com"}
    )
    assert fields_of(result) == {"external_id", "email", "name", "shop_domain"}


def test_overlong_name_is_reported() -> None:
    assert fields_of(validate_member({**VALID, "name": "x" * 201})) == {"name"}


@given(st.dictionaries(st.sampled_from([*VALID, "other"]), st.none() | st.integers() | st.text()))
def test_any_json_object_gives_a_member_or_field_errors(body: dict[str, Any]) -> None:
    result = validate_member(body)
    assert isinstance(result, MemberInput | list)
    if isinstance(result, list):
        assert result
        assert all(e.message for e in result)


@given(st.integers(min_value=0, max_value=10**12))
def test_cursor_round_trips(seq: int) -> None:
    assert decode_cursor(encode_cursor(seq)) == seq


@given(st.text())
def test_foreign_cursor_never_raises(cursor: str) -> None:
    decoded = decode_cursor(cursor)
    assert decoded is None or decoded >= 0


def test_page_args_defaults_and_bounds() -> None:
    assert parse_page_args(None, None) == (DEFAULT_PAGE_SIZE, 0)
    assert parse_page_args("100", encode_cursor(7)) == (100, 7)
    assert fields_of(parse_page_args("101", None)) == {"limit"}
    assert fields_of(parse_page_args("-1", "zzz")) == {"limit", "cursor"}


def make_directory(count: int, clients: int = 2) -> Directory:
    directory = Directory()
    for i in range(count):
        shop = f"s{i}.myshopify.com"
        directory.add(
            MemberInput(shop, f"o@{shop}", "Owner", shop),
            client_id=f"client-{i % clients}",
            id_prefix="usr",
            now=0.0,
        )
    return directory


@given(count=st.integers(min_value=0, max_value=40), limit=st.integers(min_value=1, max_value=7))
def test_paging_visits_each_of_the_clients_members_once_in_order(count: int, limit: int) -> None:
    directory = make_directory(count)
    expected = [m.id for m in directory.members.values() if m.client_id == "client-0"]
    seen: list[str] = []
    after = 0
    while True:
        page, next_seq = directory.page(client_id="client-0", external_id=None, limit=limit, after=after)
        assert len(page) <= limit
        seen += [m.id for m in page]
        if next_seq is None:
            break
        after = next_seq
    assert seen == expected


def test_members_of_another_client_are_invisible() -> None:
    directory = make_directory(2)
    other = next(m for m in directory.members.values() if m.client_id == "client-1")
    assert directory.get(other.id, "client-0") is None
    assert directory.by_external_id(other.external_id, "client-0") is None
    assert directory.get(other.id, "client-1") is other
