"""Shopify's published Admin GraphQL schema as the judge of the documents and variables the app sends.

The schema is Shopify's own (tests/fixtures/shopify_admin_schema, with its source), not our sandbox's:
a document the sandbox answers may still be one Shopify refuses.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
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


@cache
def shopify_admin_schema() -> GraphQLSchema:
    """Built once per process (about a second and a half), assumed valid: graphql-core 3.3 calls
    Shopify's schema invalid (deprecated fields implementing interface fields that are not), which
    says nothing about the documents it judges, and `validate` would refuse to use it otherwise."""
    with gzip.open(SCHEMA_FILE, "rt", encoding="utf-8") as file:
        introspection = json.load(file)
    return build_client_schema(introspection["data"], assume_valid=True)


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
