"""The sandbox's Admin API schema is a strict subset of Shopify's published one.

Every type, field, argument, input field, enum value, interface and union member the sandbox has
exists in Shopify's Admin schema for the same API version, with the same type and default; and
what Shopify requires (an argument, an input field) the sandbox requires too. So a document the
sandbox takes is one Shopify's schema takes, and the sandbox answers in Shopify's types.

Shopify's schema is the one it publishes in the npm package `@shopify/dev-mcp`, vendored with its
source in tests/fixtures/shopify_admin_schema/ (README.md there). It is read by path: the sandbox's
tests import nothing from the product.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_client_schema,
    build_schema,
    is_required_argument,
    is_required_input_field,
    print_ast,
)

from sandbox.shopify.schema import build_admin_schema

REPOSITORY = Path(__file__).resolve().parents[4]
API_VERSION = "2026-10"
SHOPIFY_SCHEMA = REPOSITORY / "tests" / "fixtures" / "shopify_admin_schema" / f"admin_{API_VERSION}.json.gz"


@cache
def shopify_admin_schema() -> GraphQLSchema:
    # assume_valid: graphql-core 3.3 calls Shopify's schema invalid (deprecated fields implementing
    # interface fields that are not), which does not matter to a comparison of types.
    with gzip.open(SHOPIFY_SCHEMA, "rt", encoding="utf-8") as file:
        return build_client_schema(json.load(file)["data"], assume_valid=True)


def default_of(value: GraphQLArgument | GraphQLInputField) -> str | None:
    """A default as GraphQL writes it (`false`, `ID`), however the schema was built."""
    default = value.default
    if default is None:
        return None
    if default.literal is not None:
        return print_ast(default.literal)
    return repr(default.value)


def _argument_differences(
    where: str, ours: dict[str, GraphQLArgument], shopify: dict[str, GraphQLArgument]
) -> list[str]:
    differences = []
    for name, argument in ours.items():
        theirs = shopify.get(name)
        if theirs is None:
            differences.append(f"{where}({name}:) is not an argument in Shopify's schema")
        elif str(argument.type) != str(theirs.type):
            differences.append(f"{where}({name}:) is {argument.type}, Shopify's is {theirs.type}")
        elif default_of(argument) != default_of(theirs):
            differences.append(
                f"{where}({name}:) defaults to {default_of(argument)}, Shopify's to {default_of(theirs)}"
            )
    differences += [
        f"{where} lacks the argument {name}, which Shopify requires"
        for name, theirs in shopify.items()
        if is_required_argument(theirs) and name not in ours
    ]
    return differences


def _input_field_differences(
    type_name: str, ours: dict[str, GraphQLInputField], shopify: dict[str, GraphQLInputField]
) -> list[str]:
    differences = []
    for name, field in ours.items():
        theirs = shopify.get(name)
        if theirs is None:
            differences.append(f"{type_name}.{name} is not an input field in Shopify's schema")
        elif str(field.type) != str(theirs.type):
            differences.append(f"{type_name}.{name} is {field.type}, Shopify's is {theirs.type}")
        elif default_of(field) != default_of(theirs):
            differences.append(
                f"{type_name}.{name} defaults to {default_of(field)}, Shopify's to {default_of(theirs)}"
            )
    differences += [
        f"{type_name} lacks the input field {name}, which Shopify requires"
        for name, theirs in shopify.items()
        if is_required_input_field(theirs) and name not in ours
    ]
    return differences


def schema_differences(sandbox: GraphQLSchema, shopify: GraphQLSchema) -> list[str]:
    """Everything in `sandbox` that `shopify` lacks or types differently, one line each."""
    differences = []
    for root in ("query_type", "mutation_type", "subscription_type"):
        ours, theirs = getattr(sandbox, root), getattr(shopify, root)
        if ours is not None and (theirs is None or ours.name != theirs.name):
            differences.append(f"the {root} is {ours.name}, Shopify's is {theirs and theirs.name}")
    for name, ours in sandbox.type_map.items():
        if name.startswith("__"):
            continue
        theirs = shopify.type_map.get(name)
        if theirs is None:
            differences.append(f"type {name} is not in Shopify's schema")
            continue
        if type(ours) is not type(theirs):
            differences.append(f"{name} is a {type(ours).__name__}, Shopify's a {type(theirs).__name__}")
            continue
        if isinstance(ours, GraphQLObjectType | GraphQLInterfaceType):
            assert isinstance(theirs, GraphQLObjectType | GraphQLInterfaceType)
            implemented = {interface.name for interface in theirs.interfaces}
            differences += [
                f"{name} implements {interface.name}, Shopify's does not"
                for interface in ours.interfaces
                if interface.name not in implemented
            ]
            for field_name, field in ours.fields.items():
                their_field = theirs.fields.get(field_name)
                if their_field is None:
                    differences.append(f"{name}.{field_name} is not a field in Shopify's schema")
                    continue
                if str(field.type) != str(their_field.type):
                    differences.append(
                        f"{name}.{field_name} is {field.type}, Shopify's is {their_field.type}"
                    )
                differences += _argument_differences(f"{name}.{field_name}", field.args, their_field.args)
        elif isinstance(ours, GraphQLInputObjectType):
            assert isinstance(theirs, GraphQLInputObjectType)
            differences += _input_field_differences(name, ours.fields, theirs.fields)
        elif isinstance(ours, GraphQLEnumType):
            assert isinstance(theirs, GraphQLEnumType)
            differences += [
                f"{name}.{value} is not a value in Shopify's schema"
                for value in ours.values
                if value not in theirs.values
            ]
        elif isinstance(ours, GraphQLUnionType):
            assert isinstance(theirs, GraphQLUnionType)
            members = {member.name for member in theirs.types}
            differences += [
                f"{name} has the member {member.name}, Shopify's does not"
                for member in ours.types
                if member.name not in members
            ]
    return differences


def test_the_sandbox_schema_is_a_strict_subset_of_shopifys_published_admin_schema() -> None:
    assert schema_differences(build_admin_schema(), shopify_admin_schema()) == []


def test_the_vendored_schema_is_shopifys_admin_api_of_the_version_the_sandbox_serves() -> None:
    shopify = shopify_admin_schema()
    assert shopify.query_type is not None
    assert shopify.query_type.name == "QueryRoot"
    assert "ProductCollectionSortKeys" in shopify.type_map  # a type only the Admin API has
    assert len(shopify.type_map) > 3000


def test_each_kind_of_difference_from_shopifys_schema_is_reported() -> None:
    # Built on Shopify's own names, so each line below stands for one mismatch the check must name.
    sandbox = build_schema(
        """
        type QueryRoot { shop: Shop  product(id: ID!, extra: Int): Product  collection: Collection }
        type Mutation { productCreate(product: ProductCreateInput!): ProductCreatePayload }
        type Shop { name: Int  notAField: String }
        type Product { id: ID! }
        type Collection { products(sortKey: ProductSortKeys, reverse: Boolean = true): Product }
        type ProductCreatePayload { product: Product }
        input ProductCreateInput { title: String  madeUp: String }
        enum ProductSortKeys { TITLE MADE_UP }
        enum CountryCode { DE AQ }
        type NotShopifys { id: ID }
        """
    )
    differences = schema_differences(sandbox, shopify_admin_schema())
    expected = [
        "Shop.name is Int, Shopify's is String!",
        "Shop.notAField is not a field in Shopify's schema",
        "QueryRoot.product(extra:) is not an argument in Shopify's schema",
        "Collection.products(sortKey:) is ProductSortKeys, Shopify's is ProductCollectionSortKeys",
        "Collection.products(reverse:) defaults to true, Shopify's to false",
        "Mutation.productCreate(product:) is ProductCreateInput!, Shopify's is ProductCreateInput",
        "ProductCreateInput.madeUp is not an input field in Shopify's schema",
        "ProductSortKeys.MADE_UP is not a value in Shopify's schema",
        "CountryCode.AQ is not a value in Shopify's schema",
        "type NotShopifys is not in Shopify's schema",
    ]
    assert [line for line in expected if line not in differences] == []
