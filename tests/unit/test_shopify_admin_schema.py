"""Every GraphQL document the app sends to Shopify is one Shopify's published Admin schema takes.

Two nets, so no document is missed silently:

- here, every document the product defines at import time (module-level strings, f-strings
  included, found by importing every product module) is validated against the schema, whether or
  not a test makes the app send it;
- `shopify_documents_checked` (tests/conftest.py, autouse) checks every request the app really
  sends in any test, documents built at run time and the variables the real code built included,
  where the one Shopify client posts them. The last test here holds that place to being the only
  one that posts to Shopify's GraphQL endpoint.

The schema is Shopify's own, vendored with its source in tests/fixtures/shopify_admin_schema/.
"""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest
from graphql import GraphQLError, OperationDefinitionNode, parse

from connectors.shopify import ShopifyClient
from onboarding.settings import Settings
from tests.support.environment import PROJECT_DIR
from tests.support.shopify_admin_schema import (
    API_VERSION,
    SentDocument,
    document_errors,
    sent_document_errors,
)
from tests.support.source import LAYERS, modules_of

DOCUMENT_STARTS = ("query", "mutation", "subscription", "fragment", "{")


def module_name(path: Any) -> str:
    return ".".join(path.relative_to(PROJECT_DIR).with_suffix("").parts).removesuffix(".__init__")


def is_graphql_operation(text: str) -> bool:
    if not text.lstrip().startswith(DOCUMENT_STARTS):
        return False
    try:
        return any(isinstance(node, OperationDefinitionNode) for node in parse(text).definitions)
    except GraphQLError:
        return False


def app_documents() -> dict[str, str]:
    """Every GraphQL operation a product module holds in a module-level string, under each name it
    has there (`sync.shopify_documents.VARIANTS_QUERY`, and again where a module imports it)."""
    found: dict[str, str] = {}
    for package in LAYERS:
        for path in sorted(modules_of(package)):
            if path.name == "__main__.py":  # importing it would run the CLI
                continue
            module = importlib.import_module(module_name(path))
            for name, value in vars(module).items():
                if isinstance(value, str) and is_graphql_operation(value):
                    found[f"{module.__name__}.{name}"] = value
    return found


def test_every_graphql_document_the_app_defines_is_valid_in_shopifys_admin_schema() -> None:
    refused = {
        name: errors for name, document in app_documents().items() if (errors := document_errors(document))
    }
    assert refused == {}


def test_the_scan_finds_the_documents_of_every_package_that_sends_to_shopify() -> None:
    documents = app_documents()
    # One document per package that talks to Shopify: a scan that finds nothing passes nothing.
    for name in (
        "sync.shopify_documents.VARIANTS_QUERY",
        "sync.catalog_import.BULK_QUERY",
        "sync.flows.orders.ORDER_CREATE",
        "billing.shopify_billing.CREATE_MUTATION",
        "iam.install.SHOP_QUERY",
        "funnels.catalog.SEARCH_QUERY",
        "onboarding.privacy.CONFIRM_QUERY",
    ):
        assert name in documents
    assert len(set(documents.values())) >= 25


def test_only_the_shopify_client_posts_to_shopifys_graphql_endpoint() -> None:
    # The autouse check sees what ShopifyClient._graphql_once posts; another module posting to the
    # endpoint would send documents it never sees.
    posting = {
        str(path.relative_to(PROJECT_DIR))
        for package in LAYERS
        for path in modules_of(package)
        if "graphql.json" in path.read_text(encoding="utf-8")
    }
    assert posting == {"connectors/shopify.py"}


def test_the_app_pins_the_admin_api_version_of_the_vendored_schema() -> None:
    assert Settings.model_fields["shopify_api_version"].default == API_VERSION


@pytest.mark.parametrize(
    ("variables", "refusal"),
    [
        ({"input": {"id": "gid://shopify/Customer/1", "addresses": [{"countryCode": "XX"}]}}, "XX"),
        ({"input": {"id": "gid://shopify/Customer/1", "emailAddress": "a@example.com"}}, "emailAddress"),
        ({"input": {"email": ["a@example.com"]}}, "String"),
        ({}, "$input"),
    ],
)
def test_variables_shopifys_schema_would_refuse_are_reported(variables: dict[str, Any], refusal: str) -> None:
    update = "mutation ($input: CustomerInput!) { customerUpdate(input: $input) { userErrors { message } } }"
    errors = sent_document_errors(SentDocument(API_VERSION, update, variables))
    assert errors
    assert refusal in " ".join(errors)


def test_a_bulk_operations_query_is_held_to_the_schema_too() -> None:
    run = "mutation ($q: String!) { bulkOperationRunQuery(query: $q) { userErrors { message } } }"
    errors = sent_document_errors(
        SentDocument(API_VERSION, run, {"q": "{ products { edges { node { nope } } } }"})
    )
    assert errors == ["nested document: Cannot query field 'nope' on type 'Product'."]


def test_a_document_for_another_api_version_is_reported() -> None:
    errors = sent_document_errors(SentDocument("2025-01", "{ shop { name } }", {}))
    assert errors == ["sent to Admin API 2025-01, the vendored schema is 2026-10's"]


def answering(data: dict[str, Any]) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, json={"data": data}))


@pytest.mark.shopify_schema_unchecked  # sends a document Shopify refuses, to see it recorded
async def test_what_the_shopify_client_sends_is_recorded_with_its_variables(
    shopify_documents_checked: list[SentDocument],
) -> None:
    client = ShopifyClient(
        httpx.AsyncClient(transport=answering({"shop": {"name": "A"}})),
        shop_base_url="http://shopify.test/shops/{shop}",
        api_version=API_VERSION,
        client_id="key",
        client_secret="secret",
    )
    document = "query ($id: ID!) { shop { nameOfShop(id: $id) } }"
    await client.graphql("a.myshopify.com", "token", document, {"id": "gid://shopify/Shop/1"})
    assert shopify_documents_checked == [SentDocument(API_VERSION, document, {"id": "gid://shopify/Shop/1"})]
    (error,) = sent_document_errors(shopify_documents_checked[0])
    assert error.startswith("Cannot query field 'nameOfShop' on type 'Shop'.")


@pytest.mark.parametrize(
    ("scalar_value", "refused"),
    [
        ({"processedAt": "07/12/2026"}, "ISO 8601"),
        (
            {
                "lineItems": [
                    {
                        "quantity": 1,
                        "title": "X",
                        "priceSet": {"shopMoney": {"amount": 5, "currencyCode": "USD"}},
                    }
                ]
            },
            "string",
        ),
        (
            {
                "lineItems": [
                    {
                        "quantity": 1,
                        "title": "X",
                        "priceSet": {"shopMoney": {"amount": "5,00", "currencyCode": "USD"}},
                    }
                ]
            },
            "decimal",
        ),
        ({"sourceUrl": "/checkout"}, "absolute URL"),
    ],
)
def test_scalar_values_are_held_to_what_shopifys_schema_says_of_them(
    scalar_value: dict[str, Any], refused: str
) -> None:
    create = (
        "mutation ($order: OrderCreateOrderInput!) { orderCreate(order: $order) { userErrors { message } } }"
    )
    (error,) = sent_document_errors(SentDocument(API_VERSION, create, {"order": scalar_value}))
    assert refused in error


def test_scalar_values_as_shopify_writes_them_are_taken() -> None:
    create = (
        "mutation ($order: OrderCreateOrderInput!) { orderCreate(order: $order) { userErrors { message } } }"
    )
    order = {
        "processedAt": "2026-12-07T15:50:00Z",
        "sourceUrl": "https://example.myshopify.com/checkout",
        "lineItems": [
            {
                "quantity": 1,
                "title": "X",
                "priceSet": {"shopMoney": {"amount": "5.00", "currencyCode": "USD"}},
            }
        ],
    }
    assert sent_document_errors(SentDocument(API_VERSION, create, {"order": order})) == []
