"""Shopify's published Admin GraphQL schema as the judge of the documents and variables the app sends.

The schema is Shopify's own (tests/fixtures/shopify_admin_schema, with its source), not our sandbox's:
a document the sandbox answers may still be one Shopify refuses.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    StringValueNode,
    VariableNode,
    build_client_schema,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from tests.support.environment import PROJECT_DIR

API_VERSION = "2026-10"
SCHEMA_FILE = PROJECT_DIR / "tests" / "fixtures" / "shopify_admin_schema" / f"admin_{API_VERSION}.json.gz"
# Mutations whose argument is itself a document Shopify runs: it must be valid too.
NESTED_DOCUMENT_ARGUMENTS = {("bulkOperationRunQuery", "query")}


def _string(value: Any, scalar: str) -> str:
    if not isinstance(value, str):
        raise GraphQLError(f"{scalar} must be a string, not {value!r}")
    return value


def _decimal(value: Any, scalar: str) -> str:
    text = _string(value, scalar)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise GraphQLError(f"{scalar} must be a decimal number, not {value!r}") from None
    if not number.is_finite():
        raise GraphQLError(f"{scalar} must be a decimal number, not {value!r}")
    return text


def _date_time(value: Any, scalar: str) -> str:
    text = _string(value, scalar)
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise GraphQLError(f"{scalar} must be an ISO 8601 date and time, not {value!r}") from None
    return text


def _date(value: Any, scalar: str) -> str:
    text = _string(value, scalar)
    try:
        date.fromisoformat(text)
    except ValueError:
        raise GraphQLError(f"{scalar} must be an ISO 8601 date, not {value!r}") from None
    return text


def _url(value: Any, scalar: str) -> str:
    parts = urlsplit(_string(value, scalar))
    if not parts.scheme or not parts.netloc:
        raise GraphQLError(f"{scalar} must be an absolute URL with a scheme and a host, not {value!r}")
    return parts.geturl()


def _unsigned_int64(value: Any, scalar: str) -> str:
    text = _string(value, scalar)
    if not text.isdigit() or int(text) >= 2**64:
        raise GraphQLError(f"{scalar} must be a string of base-10 digits below 2^64, not {value!r}")
    return text


# What Shopify's schema says of these scalars' values (each one's description); a schema built
# from an introspection result takes any value for a custom scalar otherwise.
SCALAR_VALUES: dict[str, Callable[[Any, str], str]] = {
    "Date": _date,
    "DateTime": _date_time,
    "Decimal": _decimal,
    "Money": _decimal,
    "URL": _url,
    "UnsignedInt64": _unsigned_int64,
    "HTML": _string,
}


def _coercion(check: Callable[[Any, str], str], name: str) -> Callable[[Any], str]:
    def coerce(value: Any) -> str:
        return check(value, name)

    return coerce


def _check_scalar_values(schema: GraphQLSchema) -> None:
    for name, check in SCALAR_VALUES.items():
        scalar = schema.get_type(name)
        assert isinstance(scalar, GraphQLScalarType), name
        coerce = _coercion(check, name)
        # graphql-core 3.3 coerces variables through coerce_input_value, older code paths parse_value.
        scalar.parse_value = coerce  # type: ignore[method-assign, assignment]
        scalar.coerce_input_value = coerce


@cache
def shopify_admin_schema() -> GraphQLSchema:
    """Built once per process (about a second and a half), assumed valid: graphql-core 3.3 calls
    Shopify's schema invalid (deprecated fields implementing interface fields that are not), which
    says nothing about the documents it judges, and `validate` would refuse to use it otherwise."""
    with gzip.open(SCHEMA_FILE, "rt", encoding="utf-8") as file:
        introspection = json.load(file)
    schema = build_client_schema(introspection["data"], assume_valid=True)
    _check_scalar_values(schema)
    return schema


@dataclass(frozen=True)
class SentDocument:
    """One request the app sent to Shopify's Admin GraphQL endpoint."""

    api_version: str
    document: str
    variables: Mapping[str, Any]

    @property
    def operation_name(self) -> str:
        try:
            operations = _operations(parse(self.document))
        except GraphQLError:
            return "(unparsable)"
        return ", ".join(op.name.value if op.name else "(anonymous)" for op in operations)


def _messages(errors: list[GraphQLError]) -> list[str]:
    return [error.message for error in errors]


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]


@cache
def _document_errors(document: str) -> tuple[str, ...]:
    try:
        parsed = parse(document)
    except GraphQLError as error:
        return (f"does not parse: {error.message}",)
    errors = _messages(validate(shopify_admin_schema(), parsed))
    if len(_operations(parsed)) != 1:
        # The client sends no operationName: Shopify needs exactly one operation to know what to run.
        errors.append(f"has {len(_operations(parsed))} operations, the client sends no operationName")
    return tuple(errors)


def document_errors(document: str) -> list[str]:
    """What Shopify's schema finds wrong with a document, without its variables."""
    return list(_document_errors(document))


def _nested_documents(operation: OperationDefinitionNode, variables: Mapping[str, Any]) -> Iterator[str]:
    """The documents passed as arguments that Shopify runs in turn (a bulk operation's query)."""
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            continue
        for argument in selection.arguments or ():
            if (selection.name.value, argument.name.value) not in NESTED_DOCUMENT_ARGUMENTS:
                continue
            value = argument.value
            if isinstance(value, StringValueNode):
                yield value.value
            elif isinstance(value, VariableNode) and isinstance(variables.get(value.name.value), str):
                yield variables[value.name.value]


def sent_document_errors(sent: SentDocument) -> list[str]:
    """What Shopify's schema finds wrong with a request: its document, its variables (coerced as
    Shopify coerces them: unknown input fields, missing required ones, wrong enum values and
    types are errors) and any document it hands Shopify to run."""
    if sent.api_version != API_VERSION:
        # Another version's schema may differ: vendor it (tests/fixtures/shopify_admin_schema/README.md).
        return [f"sent to Admin API {sent.api_version}, the vendored schema is {API_VERSION}'s"]
    errors = document_errors(sent.document)
    if errors:
        return errors
    (operation,) = _operations(parse(sent.document))
    coerced = get_variable_values(
        shopify_admin_schema(), operation.variable_definitions or (), dict(sent.variables)
    )
    if isinstance(coerced, list):
        errors += [f"variables: {message}" for message in _messages(coerced)]
    for nested in _nested_documents(operation, sent.variables):
        errors += [f"nested document: {message}" for message in document_errors(nested)]
    return errors
