"""A useful subset of Shopify's search syntax, as taken by the `query` argument.

Supported: free text, `field:value`, `field:value*` (prefix), `field:"a phrase"`,
`field:a,b` (any of), `field:>5` / `>=` / `<` / `<=` on numbers and dates, `field:*`
(has a value), `-term` and `NOT term`, implied AND between terms, `AND`, `OR`, and
parentheses. AND binds tighter than OR, as on Shopify. Shopify is lenient with
malformed queries (it never fails the request for them); so is this parser: a stray
parenthesis is ignored and a lone operator is read as a word.
"""

from __future__ import annotations

import enum
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# -- syntax tree --------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    field: str | None  # None: free text
    value: str
    comparator: str = ":"  # ":" equality/match, or one of > >= < <=
    prefix: bool = False  # value ended with `*`


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class MatchAll:
    pass


Node = Term | Not | And | Or | MatchAll

# -- tokens ---------------------------------------------------------------------------

_FIELD_TERM = re.compile(r"^(?P<field>[A-Za-z_][A-Za-z0-9_.]*):(?P<rest>.*)$", re.DOTALL)


def _tokens(query: str) -> list[str]:
    """Split into parentheses and terms; quoted parts of a term may hold spaces."""
    out: list[str] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char.isspace():
            i += 1
            continue
        if char in "()":
            out.append(char)
            i += 1
            continue
        start = i
        while i < n and not query[i].isspace() and query[i] not in "()":
            if query[i] in "\"'":
                close = _closing_quote(query, i)
                # An unmatched quote is taken literally, as one more character.
                i = close + 1 if close is not None else i + 1
                continue
            i += 1
        out.append(query[start:i])
    return out


def _closing_quote(query: str, opening: int) -> int | None:
    quote, j = query[opening], opening + 1
    while j < len(query):
        if query[j] == "\\":
            j += 2
            continue
        if query[j] == quote:
            return j
        j += 1
    return None


def _unquote(value: str) -> tuple[str, bool]:
    """Strip quotes and report whether the value was quoted (quoted `*` is literal)."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", value[1:-1]), True
    return value, False


def _parse_term(token: str) -> Node:
    negate = token.startswith("-") and len(token) > 1
    if negate:
        token = token[1:]
    field: str | None = None
    rest = token
    match = _FIELD_TERM.match(token)
    if match:
        field, rest = match.group("field").lower(), match.group("rest")
    comparator = ":"
    if field is not None:
        for op in (">=", "<=", ">", "<"):
            if rest.startswith(op):
                comparator, rest = op, rest[len(op) :]
                break
    value, quoted = _unquote(rest)
    prefix = False
    if not quoted and value.endswith("*") and value != "*":
        value, prefix = value[:-1], True
    term: Node = Term(field, value, comparator, prefix)
    return Not(term) if negate else term


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.peek() == "OR":
            self.take()
            if self.peek() in (None, ")"):
                break
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children: list[Node] = []
        while (token := self.peek()) is not None and token not in (")", "OR"):
            if token == "AND":
                self.take()
                continue
            children.append(self.parse_unary())
        if not children:
            return MatchAll()
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self) -> Node:
        token = self.peek()
        if token == "NOT":
            self.take()
            if self.peek() in (None, ")", "OR"):
                return Term(None, "NOT")
            return Not(self.parse_unary())
        if token == "(":
            self.take()
            inner = self.parse_or()
            if self.peek() == ")":
                self.take()
            return inner
        return _parse_term(self.take())


def parse_query(query: str | None) -> Node:
    """Parse a search query; an empty or blank query matches everything."""
    if not query or not query.strip():
        return MatchAll()
    parser = _Parser(_tokens(query))
    node = parser.parse_or()
    # Stray closing parentheses: skip them and keep reading, as a lenient search box does.
    while parser.peek() is not None:
        parser.take()
        rest = parser.parse_or()
        if not isinstance(rest, MatchAll):
            node = And((node, rest)) if not isinstance(node, MatchAll) else rest
    return node


# -- matching -------------------------------------------------------------------------


class FieldKind(enum.Enum):
    TEXT = "text"  # words: `title:shirt` matches "Cotton T-Shirt"
    KEYWORD = "keyword"  # whole value, case-insensitive: sku, tag, status
    NUMBER = "number"
    DATE = "date"


Value = str | int | float | datetime | None


@dataclass(frozen=True)
class SearchField:
    kind: FieldKind
    values: Callable[[object], Sequence[Value]]


@dataclass(frozen=True)
class SearchSpec:
    """How one resource answers searches: its fields and what free text looks at."""

    fields: Mapping[str, SearchField]
    free_text: Callable[[object], Sequence[str]]


def matches(node: Node, record: object, spec: SearchSpec) -> bool:
    if isinstance(node, MatchAll):
        return True
    if isinstance(node, Not):
        return not matches(node.child, record, spec)
    if isinstance(node, And):
        return all(matches(child, record, spec) for child in node.children)
    if isinstance(node, Or):
        return any(matches(child, record, spec) for child in node.children)
    return _match_term(node, record, spec)


def _match_term(term: Term, record: object, spec: SearchSpec) -> bool:
    if term.field is None:
        needle = term.value.lower()
        return any(needle in text.lower() for text in spec.free_text(record))
    field = spec.fields.get(term.field)
    if field is None:
        # Shopify ignores filters on fields a resource does not have (and warns).
        return True
    values = [v for v in field.values(record) if v is not None and v != ""]
    if term.value == "*" and term.comparator == ":":
        return bool(values)
    wanted = [w for w in term.value.split(",") if w] if term.comparator == ":" else [term.value]
    return any(_match_value(field.kind, term, w, v) for w in wanted for v in values)


def _match_value(kind: FieldKind, term: Term, wanted: str, value: Value) -> bool:
    if kind is FieldKind.NUMBER:
        number = _to_float(wanted)
        if number is None or not isinstance(value, int | float):
            return False
        return _compare(term.comparator, float(value), number)
    if kind is FieldKind.DATE:
        when = _to_datetime(wanted)
        if when is None or not isinstance(value, datetime):
            return False
        return _compare(term.comparator, value, when)
    text, needle = str(value).lower(), wanted.lower()
    if term.prefix:
        if kind is FieldKind.TEXT:
            return text.startswith(needle) or any(w.startswith(needle) for w in _words(text))
        return text.startswith(needle)
    if text == needle:
        return True
    if kind is FieldKind.TEXT:
        if re.search(r"[^a-z0-9]", needle):
            return needle in text  # a phrase
        return needle in _words(text)
    return False


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", text) if w]


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    ":": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _compare(op: str, left: float | datetime, right: float | datetime) -> bool:
    return _COMPARATORS[op](left, right)


def _to_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _to_datetime(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
