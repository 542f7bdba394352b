"""Calculated query cost follows Shopify's published rules."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FragmentDefinitionNode, GraphQLSchema, get_operation_ast, parse, validate
from hypothesis import given
from hypothesis import strategies as st

from sandbox.shopify.cost import actual_cost, requested_cost
from sandbox.shopify.schema import build_admin_schema

SCHEMA: GraphQLSchema = build_admin_schema()


def _parts(query: str) -> tuple[Any, dict[str, FragmentDefinitionNode]]:
    document = parse(query)
    assert validate(SCHEMA, document) == [], "test query must be valid"
    operation = get_operation_ast(document)
    assert operation is not None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return operation, fragments


def cost(query: str, variables: dict[str, Any] | None = None) -> int:
    operation, fragments = _parts(query)
    return requested_cost(SCHEMA, operation, fragments, variables)


def actual(query: str, data: dict[str, Any], variables: dict[str, Any] | None = None) -> int:
    operation, fragments = _parts(query)
    return actual_cost(SCHEMA, operation, fragments, variables, data)


def test_scalar_fields_are_free_and_their_object_costs_one() -> None:
    assert cost("{ shop { name email myshopifyDomain currencyCode } }") == 1


def test_typename_alone_costs_nothing() -> None:
    assert cost("{ __typename }") == 0


def test_each_nested_object_costs_one() -> None:
    assert cost("{ shop { plan { displayName } primaryDomain { host } } }") == 3


def test_connection_costs_two_plus_first_times_node() -> None:
    assert cost("{ products(first: 10) { edges { node { id title } } } }") == 12


def test_connection_sized_by_last_too() -> None:
    assert cost("{ products(last: 4) { nodes { id } } }") == 6


def test_page_info_and_cursors_come_with_the_connection() -> None:
    plain = cost("{ products(first: 10) { edges { node { id } } } }")
    with_info = cost(
        "{ products(first: 10) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
    )
    assert plain == with_info == 12


def test_objects_inside_each_node_are_multiplied_by_page_size() -> None:
    # node 1 + featuredImage 1 per product
    assert cost("{ products(first: 5) { nodes { featuredImage { url } } } }") == 2 + 5 * 2


def test_nested_connections_multiply() -> None:
    query = "{ products(first: 10) { edges { node { variants(first: 5) { edges { node { id } } } } } } }"
    # 2 + 10 * (product 1 + variants connection (2 + 5 * 1))
    assert cost(query) == 82


def test_page_size_from_variables() -> None:
    query = "query($n: Int) { products(first: $n) { nodes { id } } }"
    assert cost(query, {"n": 7}) == 9


def test_each_mutation_field_costs_ten_whatever_it_selects() -> None:
    one = 'mutation { productDelete(input: {id: "gid://shopify/Product/1"}) { deletedProductId } }'
    big = (
        'mutation { productUpdate(product: {id: "gid://shopify/Product/1"}) '
        "{ product { variants(first: 50) { nodes { id } } } userErrors { message } } }"
    )
    two = (
        'mutation { a: productDelete(input: {id: "gid://shopify/Product/1"}) { deletedProductId } '
        'b: productDelete(input: {id: "gid://shopify/Product/2"}) { deletedProductId } }'
    )
    assert (cost(one), cost(big), cost(two)) == (10, 10, 20)


def test_named_fragment_costs_the_same_as_writing_it_out() -> None:
    inline = "{ products(first: 3) { nodes { id featuredImage { url } } } }"
    spread = "{ products(first: 3) { nodes { ...P } } } fragment P on Product { id featuredImage { url } }"
    assert cost(spread) == cost(inline) == 2 + 3 * 2


def test_a_field_asked_twice_through_a_fragment_is_paid_once() -> None:
    query = "{ shop { plan { displayName } ...S } } fragment S on Shop { plan { shopifyPlus } }"
    assert cost(query) == 2


def test_inline_fragments_on_an_interface_take_the_dearest_type() -> None:
    query = """{
      node(id: "gid://shopify/Product/1") {
        id
        ... on Product { variants(first: 10) { nodes { id } } }
        ... on Collection { products(first: 3) { nodes { id } } }
      }
    }"""
    # Product: 1 + (2 + 10); Collection: 1 + (2 + 3); anything else: 1.
    assert cost(query) == 13


def test_union_members_take_the_dearest_type() -> None:
    query = """{ webhookSubscriptions(first: 2) { nodes {
        endpoint { ... on WebhookHttpEndpoint { callbackUrl } ... on WebhookPubSubEndpoint { pubSubTopic } }
    } } }"""
    assert cost(query) == 2 + 2 * (1 + 1)


def test_skipped_selections_are_not_paid_for() -> None:
    query = "query($s: Boolean!) { shop { name } products(first: 50) @skip(if: $s) { nodes { id } } }"
    assert cost(query, {"s": True}) == 1
    assert cost(query, {"s": False}) == 1 + 52


def test_actual_cost_counts_the_nodes_returned() -> None:
    query = "{ products(first: 10) { edges { node { id featuredImage { url } } } } }"
    data = {
        "products": {
            "edges": [
                {"node": {"id": "1", "featuredImage": {"url": "u"}}},
                {"node": {"id": "2", "featuredImage": None}},
            ]
        }
    }
    assert cost(query) == 2 + 10 * 2
    # two nodes (1 each) and one image (1): the null image is refunded
    assert actual(query, data) == 2 + 2 + 1


def test_actual_cost_of_a_null_object_is_zero() -> None:
    query = '{ product(id: "gid://shopify/Product/1") { id } }'
    assert cost(query) == 1
    assert actual(query, {"product": None}) == 0


@given(first=st.integers(min_value=0, max_value=250))
def test_single_connection_cost_is_two_plus_page_size(first: int) -> None:
    assert cost(f"{{ products(first: {first}) {{ nodes {{ id title }} }} }}") == 2 + first


@given(outer=st.integers(min_value=1, max_value=250), inner=st.integers(min_value=1, max_value=250))
def test_nested_connection_cost_is_the_product_rule(outer: int, inner: int) -> None:
    query = f"{{ products(first: {outer}) {{ nodes {{ variants(first: {inner}) {{ nodes {{ id }} }} }} }} }}"
    assert cost(query) == 2 + outer * (1 + 2 + inner)


@pytest.mark.parametrize("returned", [0, 1, 5, 10])
def test_actual_cost_never_exceeds_requested(returned: int) -> None:
    query = "{ products(first: 10) { nodes { id } } }"
    data = {"products": {"nodes": [{"id": str(i)} for i in range(returned)]}}
    assert actual(query, data) == 2 + returned <= cost(query)
