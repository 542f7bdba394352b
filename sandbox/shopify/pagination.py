"""Relay connections with Shopify's rules: first/last required, at most 250, opaque cursors.

A cursor names a position in the sort order (the sort value and the id of the record),
not an offset, so a page walk stays exact while records are added or removed elsewhere
in the list - the property the app's sync relies on.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from graphql import GraphQLError

MAX_PAGE_SIZE = 250

# Set while a bulk operation executes its query: connections then need no page size and
# have no cap, and one without `first`/`last` returns every record, as in Shopify's bulk
# queries (which ignore `first`).
_UNBOUNDED: ContextVar[bool] = ContextVar("shopify_sandbox_unbounded_pages", default=False)


@contextmanager
def unbounded_pages() -> Iterator[None]:
    token = _UNBOUNDED.set(True)
    try:
        yield
    finally:
        _UNBOUNDED.reset(token)


T = TypeVar("T")
SortValue = str | int | float


@dataclass(frozen=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None
    reverse: bool = False


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


def sortable(value: object) -> SortValue:
    """Reduce a sort value to something JSON can carry in a cursor and compare."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str | int | float):
        return value.lower() if isinstance(value, str) else value
    return "" if value is None else str(value)


def encode_cursor(sort_value: SortValue, record_id: int) -> str:
    raw = json.dumps({"last_id": record_id, "last_value": sort_value}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[SortValue, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value, record_id = data["last_value"], data["last_id"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor}") from exc
    if not isinstance(record_id, int) or not isinstance(value, str | int | float):
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor}")
    return value, record_id


def check_page_size(args: PageArgs) -> None:
    """Shopify refuses a connection without a page size, or with one over 250."""
    if _UNBOUNDED.get():
        return
    if args.first is None and args.last is None:
        raise GraphQLError(
            "you must provide one of first or last",
            extensions={"code": "BAD_REQUEST"},
        )
    for name, size in (("first", args.first), ("last", args.last)):
        if size is not None and (size < 0 or size > MAX_PAGE_SIZE):
            raise GraphQLError(
                f"The '{name}' argument must be between 0 and {MAX_PAGE_SIZE}.",
                extensions={"code": "BAD_REQUEST"},
            )


def paginate(
    records: Sequence[T],
    args: PageArgs,
    *,
    record_id: Callable[[T], int],
    sort_value: Callable[[T], SortValue],
) -> Page[T]:
    check_page_size(args)

    def key(record: T) -> tuple[SortValue, int]:
        return (sort_value(record), record_id(record))

    ordered = sorted(records, key=key, reverse=args.reverse)
    keys = [key(r) for r in ordered]

    def comes_after(k: tuple[SortValue, int], cursor: tuple[SortValue, int]) -> bool:
        try:
            return k < cursor if args.reverse else k > cursor
        except TypeError as exc:  # a cursor from another sort key
            raise GraphQLError("Invalid cursor for current pagination sort.") from exc

    start, end = 0, len(ordered)
    if args.after is not None:
        after = decode_cursor(args.after)
        start = next((i for i, k in enumerate(keys) if comes_after(k, after)), len(ordered))
    if args.before is not None:
        before = decode_cursor(args.before)
        end = next((i for i, k in enumerate(keys) if not comes_after(before, k)), len(ordered))
        end = max(end, start)
    if args.first is not None:
        end = min(end, start + args.first)
    if args.last is not None:
        start = max(start, end - args.last)
    window = ordered[start:end]
    return Page(
        items=window,
        cursors=[encode_cursor(*keys[i]) for i in range(start, end)],
        has_next_page=end < len(ordered),
        has_previous_page=start > 0,
    )
