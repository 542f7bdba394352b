"""The Admin API schema: the SDL in schema.graphql plus scalars and resolver plumbing.

Resolvers are plain Python objects ("views"): a field `fooBar` resolves to the view's
attribute `foo_bar`, called with snake_case arguments when it is a method. Plain dicts
(keyed by the GraphQL field name) serve small leaf objects such as `pageInfo`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from graphql import (
    FloatValueNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    IntValueNode,
    StringValueNode,
    ValueNode,
    build_schema,
)

from sandbox.shopify.countries import country_code_enum_sdl
from sandbox.shopify.models import money

SDL_PATH = Path(__file__).with_name("schema.graphql")


@cache
def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def resolve_field(source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    if isinstance(source, Mapping):
        value = source.get(info.field_name)
    else:
        value = getattr(source, _snake(info.field_name), None)
    if callable(value):
        return value(**{_snake(k): v for k, v in args.items()})
    return value


def resolve_type(value: Any, info: GraphQLResolveInfo[Any], abstract_type: GraphQLAbstractType) -> str:
    """Concrete type of an interface/union value: views carry `typename`, dicts `__typename`."""
    if isinstance(value, Mapping):
        return str(value["__typename"])
    return str(value.typename)


# -- scalars --------------------------------------------------------------------------


def serialize_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        # Shopify's DateTime: ISO 8601 in UTC with a Z.
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise GraphQLError(f"Invalid DateTime: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise GraphQLError(f"Invalid DateTime: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_money(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise GraphQLError(f"Invalid decimal value: {value!r}")
    try:
        return money(value)
    except ValueError as exc:
        raise GraphQLError(f"Invalid decimal value: {value!r}") from exc


def _parse_money_literal(node: ValueNode, _variables: Any = None) -> str:
    if isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
        return _parse_money(node.value)
    raise GraphQLError("Money and Decimal values must be strings or numbers.", node)


def _parse_string(value: Any) -> str:
    if not isinstance(value, str):
        raise GraphQLError(f"Expected a string, got {value!r}")
    return value


def _parse_string_literal(node: ValueNode, _variables: Any = None) -> str:
    if isinstance(node, StringValueNode):
        return node.value
    raise GraphQLError("Expected a string.", node)


def _setup_scalar(
    schema: GraphQLSchema, name: str, serialize: Any, parse_value: Any, parse_literal: Any
) -> None:
    scalar = schema.get_type(name)
    assert isinstance(scalar, GraphQLScalarType)
    scalar.serialize = serialize  # type: ignore[method-assign]
    scalar.parse_value = parse_value  # type: ignore[method-assign]
    scalar.parse_literal = parse_literal  # type: ignore[method-assign]
    # graphql-core 3.3 executes through the coerce_* hooks, which it bound to the
    # defaults when the schema was built: set them too, or output values (datetimes)
    # and variable values (Money) skip these functions.
    scalar.coerce_output_value = serialize
    scalar.coerce_input_value = parse_value
    scalar.coerce_input_literal = parse_literal


def _parse_datetime_literal(node: ValueNode, _variables: Any = None) -> datetime:
    return _parse_datetime(_parse_string_literal(node))


def serialize_unsigned_int64(value: Any) -> str:
    # Shopify sends UnsignedInt64 as a string of digits (it does not fit a JSON number).
    return str(int(value))


def _parse_unsigned_int64(value: Any) -> int:
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not text.isdigit() or int(text) >= 2**64:
        raise GraphQLError(f"Invalid UnsignedInt64: {value!r}")
    return int(text)


def _parse_unsigned_int64_literal(node: ValueNode, _variables: Any = None) -> int:
    if isinstance(node, StringValueNode | IntValueNode):
        return _parse_unsigned_int64(node.value)
    raise GraphQLError("UnsignedInt64 values must be strings or integers.", node)


@cache
def build_admin_schema() -> GraphQLSchema:
    """Built once per process: the schema is never changed after this, so apps share it."""
    schema = build_schema(SDL_PATH.read_text(encoding="utf-8") + "\n" + country_code_enum_sdl())
    _setup_scalar(schema, "DateTime", serialize_datetime, _parse_datetime, _parse_datetime_literal)
    for name in ("Money", "Decimal"):
        _setup_scalar(schema, name, str, _parse_money, _parse_money_literal)
    for name in ("URL", "HTML"):
        _setup_scalar(schema, name, str, _parse_string, _parse_string_literal)
    _setup_scalar(
        schema,
        "UnsignedInt64",
        serialize_unsigned_int64,
        _parse_unsigned_int64,
        _parse_unsigned_int64_literal,
    )
    return schema
