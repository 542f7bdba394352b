"""Shopify's calculated query cost, from graphql-core's AST and the schema's types.

Rules (shopify.dev, "API rate limits"): scalar and enum fields cost 0; an object 1; a
connection 2 plus `first`/`last` times the cost of one node, so nested connections
multiply; an interface or union the most expensive of its possible types; each
top-level mutation field 10. `Edge` and `PageInfo` objects come with their connection
(free), and introspection is free.

The requested cost is computed before execution from the query alone. The actual cost
walks the same selections over the response data: a connection costs 2 plus what its
returned nodes cost, and a null object costs nothing, so the difference can be refunded.

Fields asked for twice under one response key (directly and through a fragment) are
merged before costing, the way execution merges them, so they are paid once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLInt,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_object_type,
    value_from_ast,
)

MUTATION_COST: Final = 10
OBJECT_COST: Final = 1
CONNECTION_COST: Final = 2


class _Static:
    """Marker for "no data": cost the query as written, before execution."""


STATIC: Final = _Static()


@dataclass(frozen=True)
class CostContext:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: dict[str, Any]


def requested_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any] | None = None,
) -> int:
    ctx = CostContext(schema, fragments, dict(variables or {}))
    return _operation_cost(ctx, operation, STATIC)


def actual_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any] | None,
    data: Mapping[str, Any] | None,
) -> int:
    ctx = CostContext(schema, fragments, dict(variables or {}))
    if data is None:
        return 0
    return _operation_cost(ctx, operation, data)


def _operation_cost(ctx: CostContext, operation: OperationDefinitionNode, data: object) -> int:
    root = ctx.schema.get_root_type(operation.operation)
    if root is None:
        return 0
    if operation.operation is OperationType.MUTATION:
        fields = _collect_fields(ctx, [operation.selection_set], root)
        if isinstance(data, Mapping):
            # A mutation that failed before running (null payload) still did the work
            # of a mutation attempt on Shopify; only absent fields are free.
            return MUTATION_COST * sum(1 for key in fields if key in data)
        return MUTATION_COST * len(fields)
    # The query root itself is free: `{ shop { name } }` costs 1.
    return _object_selections_cost(ctx, [operation.selection_set], root, data)


def _collect_fields(
    ctx: CostContext, selection_sets: Sequence[SelectionSetNode], obj: GraphQLObjectType
) -> dict[str, list[FieldNode]]:
    """Fields by response key for a concrete type, through fragments that apply to it."""
    fields: dict[str, list[FieldNode]] = {}

    def visit(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if not _included(ctx, selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or _applies(ctx, condition.name.value, obj):
                    visit(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = ctx.fragments.get(selection.name.value)
                if fragment is not None and _applies(ctx, fragment.type_condition.name.value, obj):
                    visit(fragment.selection_set)

    for selection_set in selection_sets:
        visit(selection_set)
    return fields


def _included(ctx: CostContext, node: SelectionNode) -> bool:
    """Honour @skip(if:) and @include(if:): skipped selections are not paid for."""
    for directive in node.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        argument = next((a for a in directive.arguments or () if a.name.value == "if"), None)
        if argument is None:
            continue
        condition = value_from_ast(argument.value, GraphQLBoolean, ctx.variables)
        if (name == "skip" and condition is True) or (name == "include" and condition is False):
            return False
    return True


def _applies(ctx: CostContext, type_name: str, obj: GraphQLObjectType) -> bool:
    condition = ctx.schema.get_type(type_name)
    if condition is None:
        return False
    if condition is obj:
        return True
    if is_abstract_type(condition):
        assert isinstance(condition, GraphQLAbstractType)
        return ctx.schema.is_sub_type(condition, obj)
    return False


def _selections_cost(
    ctx: CostContext, selection_sets: Sequence[SelectionSetNode], named: Any, data: object
) -> int:
    """Cost of the selections below a field of composite type `named`."""
    if is_object_type(named):
        return _object_selections_cost(ctx, selection_sets, named, data)
    # Interfaces and unions: the dearest possible type, or the one the data names.
    possible = list(ctx.schema.get_possible_types(named))
    if isinstance(data, Mapping) and isinstance(data.get("__typename"), str):
        possible = [t for t in possible if t.name == data["__typename"]] or possible
    return max((_object_selections_cost(ctx, selection_sets, t, data) for t in possible), default=0)


def _object_selections_cost(
    ctx: CostContext,
    selection_sets: Sequence[SelectionSetNode],
    obj: GraphQLObjectType,
    data: object,
) -> int:
    total = 0
    for key, nodes in _collect_fields(ctx, selection_sets, obj).items():
        name = nodes[0].name.value
        if name.startswith("__"):
            continue  # __typename and introspection are free
        field = obj.fields.get(name)
        if field is None:
            continue
        if data is STATIC:
            field_data: object = STATIC
        elif isinstance(data, Mapping):
            field_data = data.get(key)
        else:
            field_data = None
        total += _field_cost(ctx, nodes, field.type, field.args, field_data)
    return total


def _field_cost(
    ctx: CostContext, nodes: list[FieldNode], field_type: Any, args: Mapping[str, Any], data: object
) -> int:
    named = get_named_type(field_type)
    if is_leaf_type(named):
        return 0
    if data is None:
        return 0  # a null object (or a field that errored) is refunded
    sub_sets = [n.selection_set for n in nodes if n.selection_set is not None]
    if _is_connection(named):
        return _connection_cost(ctx, nodes[0], args, sub_sets, named, data)
    own = 0 if _is_free_wrapper(named.name) else OBJECT_COST
    if is_list_type(get_nullable_type(field_type)):
        # A plain list (not a connection) is costed as one element: Shopify sizes only
        # connections. The actual cost takes the dearest element returned.
        if data is STATIC:
            return own + _selections_cost(ctx, sub_sets, named, STATIC)
        items = list(data) if isinstance(data, Sequence) else []
        return max(
            (own + _selections_cost(ctx, sub_sets, named, item) for item in items if item),
            default=0,
        )
    return own + _selections_cost(ctx, sub_sets, named, data)


def _connection_cost(
    ctx: CostContext,
    node: FieldNode,
    args: Mapping[str, Any],
    sub_sets: list[SelectionSetNode],
    connection: GraphQLObjectType,
    data: object,
) -> int:
    inner = 0
    for key, nodes in _collect_fields(ctx, sub_sets, connection).items():
        name = nodes[0].name.value
        field = connection.fields.get(name)
        if field is None or name.startswith("__"):
            continue
        item_type = get_named_type(field.type)
        item_sets = [n.selection_set for n in nodes if n.selection_set is not None]
        own = 0 if _is_free_wrapper(item_type.name) else OBJECT_COST
        if name in ("edges", "nodes"):
            if data is STATIC:
                per_item = own + _selections_cost(ctx, item_sets, item_type, STATIC)
                inner += _page_size(ctx, node, args) * per_item
            else:
                items = data.get(key) if isinstance(data, Mapping) else None
                for item in items or ():
                    if item is not None:
                        inner += own + _selections_cost(ctx, item_sets, item_type, item)
        else:
            # pageInfo and other connection-level fields, costed once.
            field_data = data if data is STATIC else _get(data, key)
            inner += _field_cost(ctx, nodes, field.type, field.args, field_data)
    return CONNECTION_COST + inner


def _page_size(ctx: CostContext, node: FieldNode, args: Mapping[str, Any]) -> int:
    for name in ("first", "last"):
        if name not in args:
            continue
        argument = next((a for a in node.arguments or () if a.name.value == name), None)
        if argument is None:
            continue
        value = value_from_ast(argument.value, GraphQLInt, ctx.variables)
        if isinstance(value, int) and value > 0:
            return value
    return 0


def _get(data: object, key: str) -> object:
    return data.get(key) if isinstance(data, Mapping) else None


def _is_connection(named: Any) -> bool:
    return is_object_type(named) and str(named.name).endswith("Connection")


def _is_free_wrapper(type_name: str) -> bool:
    return type_name.endswith("Edge") or type_name == "PageInfo"
