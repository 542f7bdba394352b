"""The Admin GraphQL API answers like Shopify's: auth, pagination, search, errors, mutations."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.tests.integration.shopify.shopify_sandbox_support import (
    API_VERSION,
    MAIN_SHOP,
    AdminApi,
    mint_token,
)

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"

PAGE_QUERY = """
query Page($first: Int, $after: String, $last: Int, $before: String, $query: String) {
  products(first: $first, after: $after, last: $last, before: $before, query: $query) {
    edges { cursor node { id title } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def test_missing_token_is_401_with_shopifys_body(client: httpx.AsyncClient) -> None:
    url = f"/shops/{MAIN_SHOP}/admin/api/{API_VERSION}/graphql.json"
    response = await client.post(url, json={"query": "{ shop { name } }"})
    assert response.status_code == 401
    assert response.json() == {"errors": INVALID_TOKEN}


async def test_wrong_token_is_401(admin: AdminApi) -> None:
    admin.token = "shpat_" + "0" * 32
    response = await admin.post("{ shop { name } }")
    assert response.status_code == 401
    assert response.json() == {"errors": INVALID_TOKEN}


async def test_token_of_another_shop_is_401(client: httpx.AsyncClient) -> None:
    other = await mint_token(client, "demo-plus.myshopify.com")
    response = await AdminApi(client, MAIN_SHOP, other).post("{ shop { name } }")
    assert response.status_code == 401


async def test_unknown_api_version_is_404(client: httpx.AsyncClient, admin: AdminApi) -> None:
    response = await client.post(
        f"/shops/{MAIN_SHOP}/admin/api/2019-04/graphql.json",
        json={"query": "{ shop { name } }"},
        headers={"X-Shopify-Access-Token": admin.token},
    )
    assert response.status_code == 404


async def test_minted_token_has_shopifys_format(client: httpx.AsyncClient) -> None:
    token = await mint_token(client, MAIN_SHOP)
    assert token.startswith("shpat_")
    assert len(token) == len("shpat_") + 32


async def test_shop_query_reports_plan_and_domain(admin: AdminApi) -> None:
    body = await admin.graphql(
        "{ shop { id name myshopifyDomain currencyCode plan { displayName shopifyPlus } } }"
    )
    shop = body["data"]["shop"]
    assert shop["id"].startswith("gid://shopify/Shop/")
    assert shop["myshopifyDomain"] == MAIN_SHOP
    assert shop["plan"] == {"displayName": "Grow", "shopifyPlus": False}
    assert body["extensions"]["cost"]["requestedQueryCost"] == 2


async def test_pagination_walks_every_product_exactly_once(admin: AdminApi) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = await admin.graphql(PAGE_QUERY, {"first": 7, "after": after})
        connection = body["data"]["products"]
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        pages += 1
        assert connection["pageInfo"]["hasPreviousPage"] == (after is not None)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert len(seen) >= 30
    assert len(seen) == len(set(seen))
    assert pages == -(-len(seen) // 7)
    everything = await admin.graphql(PAGE_QUERY, {"first": 250})
    assert seen == [e["node"]["id"] for e in everything["data"]["products"]["edges"]]


async def test_backward_pagination_with_last_and_before(admin: AdminApi) -> None:
    tail = await admin.graphql(PAGE_QUERY, {"last": 5})
    before = tail["data"]["products"]["pageInfo"]["startCursor"]
    previous = await admin.graphql(PAGE_QUERY, {"last": 5, "before": before})
    everything = await admin.graphql(PAGE_QUERY, {"first": 250})
    ids = [e["node"]["id"] for e in everything["data"]["products"]["edges"]]
    got = [e["node"]["id"] for e in previous["data"]["products"]["edges"]]
    got += [e["node"]["id"] for e in tail["data"]["products"]["edges"]]
    assert got == ids[-10:]


async def test_search_finds_a_product_by_sku(admin: AdminApi) -> None:
    body = await admin.graphql(
        """query($q: String) { productVariants(first: 5, query: $q) {
             nodes { sku product { title } } } }""",
        {"q": "sku:APP001-M-NAVY"},
    )
    nodes = body["data"]["productVariants"]["nodes"]
    assert nodes == [{"sku": "APP001-M-NAVY", "product": {"title": "Classic Cotton T-Shirt"}}]
    products = await admin.graphql(PAGE_QUERY, {"first": 5, "query": "sku:APP001-M-NAVY"})
    titles = [e["node"]["title"] for e in products["data"]["products"]["edges"]]
    assert titles == ["Classic Cotton T-Shirt"]


async def test_connection_without_first_or_last_is_an_error(admin: AdminApi) -> None:
    body = await admin.graphql("{ products { nodes { id } } }")
    assert body["errors"][0]["message"] == "you must provide one of first or last"
    assert body["errors"][0]["path"] == ["products"]
    assert body["data"] is None


async def test_page_size_over_250_is_an_error(admin: AdminApi) -> None:
    body = await admin.graphql("{ collections(first: 251) { nodes { id } } }")
    assert "250" in body["errors"][0]["message"]


async def test_syntax_error_is_200_with_errors_and_locations(admin: AdminApi) -> None:
    response = await admin.post("{ shop { name }")
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["locations"] == [{"line": 1, "column": 16}]
    assert "extensions" in error


async def test_unknown_field_is_200_with_a_validation_error(admin: AdminApi) -> None:
    response = await admin.post("{ shop { nope } }")
    assert response.status_code == 200
    body = response.json()
    assert "nope" in body["errors"][0]["message"]
    assert "data" not in body


async def test_money_is_a_decimal_string_and_weight_is_nested(admin: AdminApi) -> None:
    body = await admin.graphql(
        """{ productVariants(first: 1, query: "sku:APP001-S-WHITE") { nodes {
             price compareAtPrice barcode inventoryQuantity
             selectedOptions { name value }
             inventoryItem { measurement { weight { value unit } } }
           } } }"""
    )
    variant = body["data"]["productVariants"]["nodes"][0]
    assert variant["price"] == "19.99"
    assert variant["selectedOptions"] == [
        {"name": "Size", "value": "S"},
        {"name": "Color", "value": "White"},
    ]
    assert variant["inventoryItem"]["measurement"]["weight"] == {"value": 180.0, "unit": "GRAMS"}


async def test_product_images_are_served_by_the_sandbox(admin: AdminApi, client: httpx.AsyncClient) -> None:
    body = await admin.graphql("{ products(first: 1) { nodes { featuredImage { url altText } } } }")
    url = body["data"]["products"]["nodes"][0]["featuredImage"]["url"]
    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.startswith("<svg")


UPDATE = """mutation($product: ProductUpdateInput!) {
  productUpdate(product: $product) { product { id title } userErrors { field message } }
}"""


async def _first_product_id(admin: AdminApi) -> str:
    body = await admin.graphql("{ products(first: 1) { nodes { id } } }")
    product_id: str = body["data"]["products"]["nodes"][0]["id"]
    return product_id


async def test_product_update_with_blank_title_returns_user_errors(admin: AdminApi) -> None:
    product_id = await _first_product_id(admin)
    body = await admin.graphql(UPDATE, {"product": {"id": product_id, "title": "  "}})
    assert body["data"]["productUpdate"] == {
        "product": None,
        "userErrors": [{"field": ["title"], "message": "Title can't be blank"}],
    }
    assert "errors" not in body


async def test_product_update_of_unknown_product_returns_user_errors(admin: AdminApi) -> None:
    body = await admin.graphql(UPDATE, {"product": {"id": "gid://shopify/Product/1", "title": "x"}})
    assert body["data"]["productUpdate"]["userErrors"] == [
        {"field": ["id"], "message": "Product does not exist"}
    ]


async def test_product_update_changes_the_product(admin: AdminApi) -> None:
    product_id = await _first_product_id(admin)
    body = await admin.graphql(UPDATE, {"product": {"id": product_id, "title": "Renamed"}})
    assert body["data"]["productUpdate"]["product"] == {"id": product_id, "title": "Renamed"}
    again = await admin.graphql("query($id: ID!) { product(id: $id) { title } }", {"id": product_id})
    assert again["data"]["product"]["title"] == "Renamed"


async def test_product_create_then_delete(admin: AdminApi) -> None:
    created = await admin.graphql(
        """mutation { productCreate(product: {title: "Sandbox Socks", productOptions: [
             {name: "Size", values: [{name: "One size"}]}]}) {
           product { id handle status variants(first: 5) { nodes { title price } } }
           userErrors { field message } } }"""
    )
    product = created["data"]["productCreate"]["product"]
    assert product["handle"] == "sandbox-socks"
    assert product["variants"]["nodes"] == [{"title": "One size", "price": "0.00"}]
    deleted = await admin.graphql(
        "mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId userErrors { message } } }",
        {"id": product["id"]},
    )
    assert deleted["data"]["productDelete"] == {"deletedProductId": product["id"], "userErrors": []}
    gone = await admin.graphql("query($id: ID!) { product(id: $id) { id } }", {"id": product["id"]})
    assert gone["data"]["product"] is None


async def test_product_create_without_title_returns_user_errors(admin: AdminApi) -> None:
    body = await admin.graphql(
        'mutation { productCreate(product: {vendor: "x"}) { product { id } userErrors { field message } } }'
    )
    assert body["data"]["productCreate"]["userErrors"] == [
        {"field": ["title"], "message": "Title can't be blank"}
    ]


BULK = """mutation($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id price compareAtPrice sku }
    userErrors { field message code }
  }
}"""


async def _first_variant(admin: AdminApi) -> tuple[str, str]:
    body = await admin.graphql("{ products(first: 1) { nodes { id variants(first: 1) { nodes { id } } } } }")
    node = body["data"]["products"]["nodes"][0]
    return node["id"], node["variants"]["nodes"][0]["id"]


async def test_variants_bulk_update_changes_price_and_sku(admin: AdminApi) -> None:
    product_id, variant_id = await _first_variant(admin)
    body = await admin.graphql(
        BULK,
        {
            "productId": product_id,
            "variants": [
                {
                    "id": variant_id,
                    "price": "12.5",
                    "compareAtPrice": None,
                    "inventoryItem": {"sku": "NEW-SKU"},
                }
            ],
        },
    )
    result = body["data"]["productVariantsBulkUpdate"]
    assert result["userErrors"] == []
    assert result["productVariants"] == [
        {"id": variant_id, "price": "12.50", "compareAtPrice": None, "sku": "NEW-SKU"}
    ]


async def test_variants_bulk_update_rejects_a_negative_price_and_changes_nothing(
    admin: AdminApi,
) -> None:
    product_id, variant_id = await _first_variant(admin)
    body = await admin.graphql(
        BULK,
        {
            "productId": product_id,
            "variants": [{"id": variant_id, "price": "1.00"}, {"id": variant_id, "price": "-1"}],
        },
    )
    result = body["data"]["productVariantsBulkUpdate"]
    assert result["productVariants"] is None
    assert result["userErrors"] == [
        {
            "field": ["variants", "1", "price"],
            "message": "Price must be greater than or equal to 0",
            "code": "GREATER_THAN_OR_EQUAL_TO",
        }
    ]
    check = await admin.graphql("query($id: ID!) { productVariant(id: $id) { price } }", {"id": variant_id})
    assert check["data"]["productVariant"]["price"] != "1.00"


WEIGHT = """query($id: ID!) { productVariant(id: $id) {
  inventoryItem { measurement { weight { value unit } } }
  product { collections(first: 25) { nodes { title } } }
} }"""


async def test_variants_bulk_update_sets_the_weight_on_the_inventory_item(admin: AdminApi) -> None:
    product_id, variant_id = await _first_variant(admin)
    weight = {"value": 0.25, "unit": "KILOGRAMS"}
    body = await admin.graphql(
        BULK,
        {
            "productId": product_id,
            "variants": [{"id": variant_id, "inventoryItem": {"measurement": {"weight": weight}}}],
        },
    )
    assert body["data"]["productVariantsBulkUpdate"]["userErrors"] == []
    variant = (await admin.graphql(WEIGHT, {"id": variant_id}))["data"]["productVariant"]
    assert variant["inventoryItem"]["measurement"]["weight"] == weight
    # The seeded T-shirt is in the seeded collections a best-selling apparel item belongs to.
    titles = [c["title"] for c in variant["product"]["collections"]["nodes"]]
    assert titles == ["Home page", "Best sellers", "Under 30", "Apparel"]


async def test_a_negative_weight_is_a_user_error_and_changes_nothing(admin: AdminApi) -> None:
    product_id, variant_id = await _first_variant(admin)
    negative = {"value": -1.0, "unit": "GRAMS"}
    body = await admin.graphql(
        BULK,
        {
            "productId": product_id,
            "variants": [{"id": variant_id, "inventoryItem": {"measurement": {"weight": negative}}}],
        },
    )
    assert body["data"]["productVariantsBulkUpdate"]["userErrors"] == [
        {
            "field": ["variants", "0", "inventoryItem", "measurement", "weight", "value"],
            "message": "Weight must be greater than or equal to 0",
            "code": "INVALID_INPUT",
        }
    ]
    variant = (await admin.graphql(WEIGHT, {"id": variant_id}))["data"]["productVariant"]
    assert variant["inventoryItem"]["measurement"]["weight"] == {"value": 180.0, "unit": "GRAMS"}


async def test_token_without_the_scope_gets_access_denied(client: httpx.AsyncClient) -> None:
    token = await mint_token(client, MAIN_SHOP, scopes="read_orders")
    body = await AdminApi(client, MAIN_SHOP, token).graphql("{ products(first: 1) { nodes { id } } }")
    error: dict[str, Any] = body["errors"][0]
    assert error["extensions"]["code"] == "ACCESS_DENIED"
    assert "`read_products`" in error["message"]


@pytest.mark.parametrize("content_type", ["application/json", "application/graphql"])
async def test_both_body_formats_are_accepted(
    client: httpx.AsyncClient, admin: AdminApi, content_type: str
) -> None:
    query = "{ shop { name } }"
    content = query if content_type == "application/graphql" else f'{{"query": "{query}"}}'
    response = await client.post(
        admin.url,
        content=content,
        headers={"X-Shopify-Access-Token": admin.token, "Content-Type": content_type},
    )
    assert response.json()["data"] == {"shop": {"name": "Demo Store"}}


async def test_body_without_query_is_400(client: httpx.AsyncClient, admin: AdminApi) -> None:
    response = await client.post(
        admin.url, json={"variables": {}}, headers={"X-Shopify-Access-Token": admin.token}
    )
    assert response.status_code == 400


COLLECTION_PRODUCTS = """
query CollectionProducts($sortKey: ProductCollectionSortKeys) {
  collections(first: 1) {
    nodes { legacyResourceId products(first: 250, sortKey: $sortKey) { nodes { legacyResourceId title } } }
  }
}
"""


async def test_a_collections_products_come_in_its_own_order_unless_a_sort_key_says_otherwise(
    admin: AdminApi,
) -> None:
    async def products_by(sort_key: str | None) -> list[dict[str, Any]]:
        body = await admin.graphql(COLLECTION_PRODUCTS, {"sortKey": sort_key} if sort_key else {})
        (collection,) = body["data"]["collections"]["nodes"]
        assert collection["legacyResourceId"].isdigit()  # UnsignedInt64, a string of digits
        nodes: list[dict[str, Any]] = collection["products"]["nodes"]
        return nodes

    default = await products_by(None)
    assert len(default) > 1
    assert await products_by("COLLECTION_DEFAULT") == default
    assert await products_by("MANUAL") == default
    titles = [product["title"] for product in await products_by("TITLE")]
    assert titles == sorted(titles)
    ids = [int(product["legacyResourceId"]) for product in await products_by("ID")]
    assert ids == sorted(ids)
    # ProductSortKeys belong to `products`, not to a collection's: Shopify's schema refuses them.
    body = await admin.graphql(COLLECTION_PRODUCTS.replace("ProductCollectionSortKeys", "ProductSortKeys"))
    assert body["errors"]


async def test_a_product_create_or_update_without_its_input_answers_user_errors(admin: AdminApi) -> None:
    # Shopify's schema lets `product` be left out of both: the answer is a userError, not a crash.
    body = await admin.graphql(
        "mutation { productCreate { product { id } userErrors { field message } }"
        " productUpdate { product { id } userErrors { field message } } }"
    )
    assert "errors" not in body
    assert body["data"]["productCreate"] == {
        "product": None,
        "userErrors": [{"field": ["title"], "message": "Title can't be blank"}],
    }
    assert body["data"]["productUpdate"]["product"] is None
    assert body["data"]["productUpdate"]["userErrors"]
