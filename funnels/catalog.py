"""The shop's catalogue as the wizard needs it: search and exact variant look-ups (GraphQL)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from connectors.shopify_ids import is_gid
from iam.clients import ShopClients

PAGE_SIZE = 8
# A merchant is waiting for the page: wait out a little throttling, then say so instead.
INTERACTIVE_WAIT_SECONDS = 3.0
VARIANTS_PER_PRODUCT = 10

# Shopify charges per object: a search costs 2 + PAGE_SIZE * (4 + VARIANTS_PER_PRODUCT * 2)
# points (194), so the variants in a search do not repeat their product.
SEARCH_VARIANT_FIELDS = "id title sku price inventoryQuantity image { url altText }"
VARIANT_FIELDS = f"""
  {SEARCH_VARIANT_FIELDS}
  product {{ id title status featuredImage {{ url altText }} }}
"""
SEARCH_QUERY = f"""
query CatalogSearch($query: String, $after: String) {{
  products(first: {PAGE_SIZE}, after: $after, query: $query, sortKey: TITLE) {{
    nodes {{
      id title status
      featuredImage {{ url altText }}
      variants(first: {VARIANTS_PER_PRODUCT}) {{ nodes {{ {SEARCH_VARIANT_FIELDS} }} }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
STORE_CURRENCY_QUERY = "query StoreCurrency { shop { currencyCode } }"
VARIANT_QUERY = f"""
query CatalogVariant($id: ID!) {{ productVariant(id: $id) {{ {VARIANT_FIELDS} }} }}
"""


@dataclass(frozen=True)
class VariantChoice:
    """A variant as the merchant saw it when choosing; stored with the funnel."""

    variant_id: str
    product_id: str
    title: str
    variant_title: str
    price: str
    sku: str
    inventory: int | None
    image_url: str | None
    image_alt: str
    active: bool

    @property
    def display_name(self) -> str:
        return (
            self.title
            if self.variant_title in ("", "Default Title")
            else f"{self.title} – {self.variant_title}"
        )

    @property
    def price_amount(self) -> Decimal:
        return Decimal(self.price)

    def snapshot(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> VariantChoice:
        return cls(**data)


def _choice(variant: dict[str, Any], product: dict[str, Any]) -> VariantChoice:
    image = variant.get("image") or product.get("featuredImage") or {}
    return VariantChoice(
        variant_id=str(variant["id"]),
        product_id=str(product["id"]),
        title=str(product["title"]),
        variant_title=str(variant["title"]),
        price=str(variant["price"]),
        sku=str(variant.get("sku") or ""),
        inventory=variant.get("inventoryQuantity"),
        image_url=image.get("url"),
        image_alt=str(image.get("altText") or product["title"]),
        active=product.get("status") == "ACTIVE",
    )


@dataclass(frozen=True)
class SearchPage:
    products: list[tuple[str, list[VariantChoice]]]
    next_cursor: str | None


async def search_catalog(
    clients: ShopClients, shop_domain: str, text: str, after: str | None = None
) -> SearchPage:
    # Shopify search syntax: a trailing * matches prefixes, so "sho" finds "Shoes".
    terms = " ".join(f"{word}*" for word in text.replace('"', " ").split())
    variables = {"query": terms or None, "after": after}
    shopify = await clients.shopify_for(shop_domain)
    result = await shopify.graphql(SEARCH_QUERY, variables, max_wait_seconds=INTERACTIVE_WAIT_SECONDS)
    connection = result.data["products"]
    products = [
        (str(product["title"]), [_choice(variant, product) for variant in product["variants"]["nodes"]])
        for product in connection["nodes"]
    ]
    page_info = connection["pageInfo"]
    return SearchPage(products, page_info["endCursor"] if page_info["hasNextPage"] else None)


async def find_variant(clients: ShopClients, shop_domain: str, variant_id: str) -> VariantChoice | None:
    """The variant in *this* shop, or None: an id from another shop is simply not found."""
    if not is_gid(variant_id, "ProductVariant"):
        return None
    shopify = await clients.shopify_for(shop_domain)
    result = await shopify.graphql(VARIANT_QUERY, {"id": variant_id})
    variant = result.data.get("productVariant")
    return _choice(variant, variant["product"]) if variant else None


async def store_currency(clients: ShopClients, shop_domain: str) -> str:
    """The currency the store's prices are in (Shopify's `shop.currencyCode`)."""
    shopify = await clients.shopify_for(shop_domain)
    result = await shopify.graphql(STORE_CURRENCY_QUERY, {}, max_wait_seconds=INTERACTIVE_WAIT_SECONDS)
    return str(result.data["shop"]["currencyCode"])
