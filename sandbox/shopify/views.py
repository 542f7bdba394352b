"""GraphQL views over the store's records: one class per Admin API object type.

A view's attributes are the type's fields in snake_case (see schema.resolve_field).
Small leaf objects are returned as dicts keyed by their GraphQL field names.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sandbox.shopify.billing import subscription_view
from sandbox.shopify.config import SUPPORTED_API_VERSIONS
from sandbox.shopify.models import (
    Collection,
    Image,
    Product,
    ProductStatus,
    Shop,
    Variant,
    WebhookSubscription,
    gid,
)
from sandbox.shopify.pagination import PageArgs, SortValue, paginate, sortable
from sandbox.shopify.payloads import TOPIC_ENUMS
from sandbox.shopify.search import FieldKind, SearchField, SearchSpec, matches, parse_query
from sandbox.shopify.tokens import describe_scope

if TYPE_CHECKING:
    from sandbox.shopify.runtime import RequestContext

T = TypeVar("T")
V = TypeVar("V")

# -- search specs ---------------------------------------------------------------------


def _product(record: object) -> Product:
    assert isinstance(record, Product)
    return record


def _variant_pair(record: object) -> tuple[Product, Variant]:
    assert isinstance(record, tuple)
    return record[0], record[1]


PRODUCT_SEARCH = SearchSpec(
    fields={
        "title": SearchField(FieldKind.TEXT, lambda r: [_product(r).title]),
        "vendor": SearchField(FieldKind.TEXT, lambda r: [_product(r).vendor]),
        "product_type": SearchField(FieldKind.TEXT, lambda r: [_product(r).product_type]),
        "tag": SearchField(FieldKind.KEYWORD, lambda r: _product(r).tags),
        "handle": SearchField(FieldKind.KEYWORD, lambda r: [_product(r).handle]),
        "status": SearchField(FieldKind.KEYWORD, lambda r: [_product(r).status.value]),
        "sku": SearchField(FieldKind.KEYWORD, lambda r: [v.sku for v in _product(r).variants]),
        "barcode": SearchField(FieldKind.KEYWORD, lambda r: [v.barcode for v in _product(r).variants]),
        "id": SearchField(FieldKind.NUMBER, lambda r: [_product(r).id]),
        "inventory_total": SearchField(FieldKind.NUMBER, lambda r: [_product(r).total_inventory]),
        "created_at": SearchField(FieldKind.DATE, lambda r: [_product(r).created_at]),
        "updated_at": SearchField(FieldKind.DATE, lambda r: [_product(r).updated_at]),
        "published_at": SearchField(FieldKind.DATE, lambda r: [_product(r).published_at]),
    },
    free_text=lambda r: [
        _product(r).title,
        _product(r).vendor,
        _product(r).product_type,
        _product(r).handle,
        *_product(r).tags,
        *(v.sku for v in _product(r).variants),
        *(v.barcode or "" for v in _product(r).variants),
    ],
)

VARIANT_SEARCH = SearchSpec(
    fields={
        "sku": SearchField(FieldKind.KEYWORD, lambda r: [_variant_pair(r)[1].sku]),
        "barcode": SearchField(FieldKind.KEYWORD, lambda r: [_variant_pair(r)[1].barcode]),
        "title": SearchField(FieldKind.TEXT, lambda r: [_variant_pair(r)[1].title]),
        "id": SearchField(FieldKind.NUMBER, lambda r: [_variant_pair(r)[1].id]),
        "product_id": SearchField(FieldKind.NUMBER, lambda r: [_variant_pair(r)[0].id]),
        "product_status": SearchField(FieldKind.KEYWORD, lambda r: [_variant_pair(r)[0].status.value]),
        "vendor": SearchField(FieldKind.TEXT, lambda r: [_variant_pair(r)[0].vendor]),
        "inventory_quantity": SearchField(
            FieldKind.NUMBER, lambda r: [_variant_pair(r)[1].inventory_quantity]
        ),
        "created_at": SearchField(FieldKind.DATE, lambda r: [_variant_pair(r)[1].created_at]),
        "updated_at": SearchField(FieldKind.DATE, lambda r: [_variant_pair(r)[1].updated_at]),
    },
    free_text=lambda r: [
        _variant_pair(r)[0].title,
        _variant_pair(r)[1].title,
        _variant_pair(r)[1].sku,
        _variant_pair(r)[1].barcode or "",
    ],
)


def _collection(record: object) -> Collection:
    assert isinstance(record, Collection)
    return record


COLLECTION_SEARCH = SearchSpec(
    fields={
        "title": SearchField(FieldKind.TEXT, lambda r: [_collection(r).title]),
        "handle": SearchField(FieldKind.KEYWORD, lambda r: [_collection(r).handle]),
        "id": SearchField(FieldKind.NUMBER, lambda r: [_collection(r).id]),
        "updated_at": SearchField(FieldKind.DATE, lambda r: [_collection(r).updated_at]),
    },
    free_text=lambda r: [_collection(r).title, _collection(r).handle],
)

PRODUCT_SORT: dict[str, Callable[[Product], object]] = {
    "ID": lambda p: p.id,
    "RELEVANCE": lambda p: p.id,
    "TITLE": lambda p: p.title,
    "CREATED_AT": lambda p: p.created_at,
    "UPDATED_AT": lambda p: p.updated_at,
    "PUBLISHED_AT": lambda p: p.published_at,
    "PRODUCT_TYPE": lambda p: p.product_type,
    "VENDOR": lambda p: p.vendor,
    "INVENTORY_TOTAL": lambda p: p.total_inventory,
}

VARIANT_SORT: dict[str, Callable[[tuple[Product, Variant]], object]] = {
    "ID": lambda pv: pv[1].id,
    "RELEVANCE": lambda pv: pv[1].id,
    # Within one product the position; across products, products in id order first.
    "POSITION": lambda pv: f"{pv[0].id:020d}:{pv[1].position:06d}",
    "SKU": lambda pv: pv[1].sku,
    "TITLE": lambda pv: pv[1].title,
    "NAME": lambda pv: f"{pv[0].title} - {pv[1].title}",
    "INVENTORY_QUANTITY": lambda pv: pv[1].inventory_quantity,
}

COLLECTION_SORT: dict[str, Callable[[Collection], object]] = {
    "ID": lambda c: c.id,
    "RELEVANCE": lambda c: c.id,
    "TITLE": lambda c: c.title,
    "UPDATED_AT": lambda c: c.updated_at,
}


# -- connections ----------------------------------------------------------------------


def connection(
    records: Sequence[T],
    args: PageArgs,
    *,
    record_id: Callable[[T], int],
    sort_value: Callable[[T], object],
    view: Callable[[T], V],
) -> dict[str, Any]:
    def key(record: T) -> SortValue:
        return sortable(sort_value(record))

    page = paginate(records, args, record_id=record_id, sort_value=key)
    nodes = [view(r) for r in page.items]
    return {
        "edges": [{"cursor": c, "node": n} for c, n in zip(page.cursors, nodes, strict=True)],
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": page.has_next_page,
            "hasPreviousPage": page.has_previous_page,
            "startCursor": page.cursors[0] if page.cursors else None,
            "endCursor": page.cursors[-1] if page.cursors else None,
        },
    }


def search(records: Sequence[T], query: str | None, spec: SearchSpec) -> list[T]:
    tree = parse_query(query)
    return [r for r in records if matches(tree, r, spec)]


def count(n: int, limit: int | None = None) -> dict[str, Any]:
    if limit is not None and n > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": n, "precision": "EXACT"}


def strip_html(value: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", value)).strip()


# -- views ----------------------------------------------------------------------------


def image_view(ctx: RequestContext, image: Image | None) -> dict[str, Any] | None:
    if image is None:
        return None
    return {
        "id": gid("ProductImage", image.id),
        "url": f"{ctx.sandbox.config.public_base}/_sandbox/images/{image.id}.svg",
        "altText": image.alt_text,
        "width": image.width,
        "height": image.height,
    }


def media_view(ctx: RequestContext, image: Image) -> dict[str, Any]:
    preview = image_view(ctx, image)
    return {
        "__typename": "MediaImage",
        "id": gid("MediaImage", image.id),
        "alt": image.alt_text,
        "mediaContentType": "IMAGE",
        "preview": {"image": preview},
        "image": preview,
    }


class ShopView:
    typename: ClassVar[str] = "Shop"

    def __init__(self, ctx: RequestContext, shop: Shop) -> None:
        self._ctx, self._shop = ctx, shop
        self.id = gid("Shop", shop.id)
        self.name = shop.name
        self.email = shop.email
        self.contact_email = shop.email
        self.myshopify_domain = shop.domain
        self.currency_code = shop.currency_code
        self.iana_timezone = "Etc/UTC"
        self.created_at = shop.created_at
        self.url = ctx.sandbox.config.shop_base_url(shop.domain)

    def plan(self) -> dict[str, Any]:
        tier = self._shop.tier
        return {
            "displayName": tier.display_name,
            "partnerDevelopment": False,
            "shopifyPlus": tier.shopify_plus,
        }

    def primary_domain(self) -> dict[str, Any]:
        return {
            "id": gid("Domain", self._shop.id),
            "host": self._shop.domain,
            "url": self.url,
            "sslEnabled": True,
        }


def _app_number(api_key: str) -> int:
    # A stable numeric id for the one registered app, derived from its client id.
    return int(hashlib.sha256(api_key.encode()).hexdigest()[:10], 16)


def app_installation_view(ctx: RequestContext) -> dict[str, Any]:
    """`currentAppInstallation`: the app as installed in this shop, seen through its token."""
    config = ctx.sandbox.config
    scopes = ctx.token.scopes if ctx.token is not None else sorted(ctx.scopes)
    app_handle = re.sub(r"[^a-z0-9]+", "-", config.app_name.lower()).strip("-")
    return {
        "id": gid("AppInstallation", ctx.shop.id),
        "accessScopes": [{"handle": s, "description": describe_scope(s)} for s in scopes],
        "app": {
            "id": gid("App", _app_number(config.api_key)),
            "title": config.app_name,
            "handle": app_handle,
            "apiKey": config.api_key,
        },
        "launchUrl": f"{config.app_base}/",
        "activeSubscriptions": [
            subscription_view(sub)
            for sub in ctx.shop.app_subscriptions.values()
            if sub.status == "ACTIVE" and sub.api_key == config.api_key
        ],
    }


class ProductView:
    typename: ClassVar[str] = "Product"

    def __init__(self, ctx: RequestContext, product: Product) -> None:
        self._ctx, self._p = ctx, product
        self.id = gid("Product", product.id)
        self.legacy_resource_id = str(product.id)
        self.title = product.title
        self.handle = product.handle
        self.description_html = product.description_html
        self.vendor = product.vendor
        self.product_type = product.product_type
        self.status = product.status.value
        self.tags = list(product.tags)
        self.total_inventory = product.total_inventory
        self.tracks_inventory = any(v.tracked for v in product.variants)
        self.created_at = product.created_at
        self.updated_at = product.updated_at
        self.published_at = product.published_at

    def description(self) -> str:
        return strip_html(self._p.description_html)

    def has_only_default_variant(self) -> bool:
        return [o.name for o in self._p.options] == ["Title"] and len(self._p.variants) == 1

    def online_store_url(self) -> str | None:
        # Shopify gives a storefront URL only for products published to the store.
        if self._p.status is not ProductStatus.ACTIVE or self._p.published_at is None:
            return None
        return self.online_store_preview_url()

    def online_store_preview_url(self) -> str:
        shop = self._ctx.shop.domain
        return f"{self._ctx.sandbox.config.shop_base_url(shop)}/products/{self._p.handle}"

    def featured_image(self) -> dict[str, Any] | None:
        return image_view(self._ctx, self._p.images[0] if self._p.images else None)

    def featured_media(self) -> dict[str, Any] | None:
        return media_view(self._ctx, self._p.images[0]) if self._p.images else None

    def images(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
    ) -> dict[str, Any]:
        positions = {img.id: i for i, img in enumerate(self._p.images)}
        return connection(
            self._p.images,
            PageArgs(first, after, last, before, reverse),
            record_id=lambda img: img.id,
            sort_value=lambda img: positions[img.id],
            view=lambda img: image_view(self._ctx, img),
        )

    def media(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
    ) -> dict[str, Any]:
        positions = {img.id: i for i, img in enumerate(self._p.images)}
        return connection(
            self._p.images,
            PageArgs(first, after, last, before, reverse),
            record_id=lambda img: img.id,
            sort_value=lambda img: positions[img.id],
            view=lambda img: media_view(self._ctx, img),
        )

    def options(self, first: int | None = None) -> list[dict[str, Any]]:
        options = self._p.options if first is None else self._p.options[:first]
        return [
            {"id": gid("ProductOption", o.id), "name": o.name, "position": i, "values": o.values}
            for i, o in enumerate(options, 1)
        ]

    def price_range_v2(self) -> dict[str, Any]:
        prices = sorted(Decimal(v.price) for v in self._p.variants)
        currency = self._ctx.shop.currency_code
        lowest = prices[0] if prices else Decimal(0)
        highest = prices[-1] if prices else Decimal(0)
        return {
            "minVariantPrice": {"amount": str(lowest), "currencyCode": currency},
            "maxVariantPrice": {"amount": str(highest), "currencyCode": currency},
        }

    def variants(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
        sort_key: str = "POSITION",
    ) -> dict[str, Any]:
        sort = VARIANT_SORT.get(sort_key, VARIANT_SORT["POSITION"])
        return connection(
            [(self._p, v) for v in self._p.variants],
            PageArgs(first, after, last, before, reverse),
            record_id=lambda pv: pv[1].id,
            sort_value=sort,
            view=lambda pv: VariantView(self._ctx, pv[0], pv[1]),
        )

    def variants_count(self) -> dict[str, Any]:
        return count(len(self._p.variants))

    def collections(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
        sort_key: str = "ID",
        query: str | None = None,
    ) -> dict[str, Any]:
        owned = [c for c in self._ctx.shop.collections.values() if self._p.id in c.product_ids]
        return collection_connection(
            self._ctx, owned, PageArgs(first, after, last, before, reverse), sort_key, query
        )


class VariantView:
    typename: ClassVar[str] = "ProductVariant"

    def __init__(self, ctx: RequestContext, product: Product, variant: Variant) -> None:
        self._ctx, self._p, self._v = ctx, product, variant
        self.id = gid("ProductVariant", variant.id)
        self.legacy_resource_id = str(variant.id)
        self.title = variant.title
        self.display_name = f"{product.title} - {variant.title}"
        self.sku = variant.sku
        self.barcode = variant.barcode
        self.price = variant.price
        self.compare_at_price = variant.compare_at_price
        self.inventory_quantity = variant.inventory_quantity
        self.inventory_policy = variant.inventory_policy
        self.available_for_sale = (
            variant.inventory_quantity > 0 or variant.inventory_policy == "CONTINUE" or not variant.tracked
        )
        self.taxable = variant.taxable
        self.position = variant.position
        self.created_at = variant.created_at
        self.updated_at = variant.updated_at

    def selected_options(self) -> list[dict[str, str]]:
        return [
            {"name": o.name, "value": value}
            for o, value in zip(self._p.options, self._v.option_values, strict=False)
        ]

    def image(self) -> dict[str, Any] | None:
        image = next((i for i in self._p.images if i.id == self._v.image_id), None)
        return image_view(self._ctx, image)

    def product(self) -> ProductView:
        return ProductView(self._ctx, self._p)

    def inventory_item(self) -> dict[str, Any]:
        v = self._v
        return {
            "id": gid("InventoryItem", v.inventory_item_id),
            "legacyResourceId": str(v.inventory_item_id),
            "sku": v.sku,
            "tracked": v.tracked,
            "measurement": {
                "id": gid("InventoryItemMeasurement", v.inventory_item_id),
                "weight": {"value": v.weight, "unit": v.weight_unit},
            },
        }


class CollectionView:
    typename: ClassVar[str] = "Collection"

    def __init__(self, ctx: RequestContext, collection: Collection) -> None:
        self._ctx, self._c = ctx, collection
        self.id = gid("Collection", collection.id)
        self.legacy_resource_id = str(collection.id)
        self.title = collection.title
        self.handle = collection.handle
        self.description_html = collection.description_html
        self.description = strip_html(collection.description_html)
        self.updated_at = collection.updated_at

    def image(self) -> dict[str, Any] | None:
        return image_view(self._ctx, self._c.image)

    def _members(self) -> list[Product]:
        products = self._ctx.shop.products
        return [products[i] for i in self._c.product_ids if i in products]

    def products_count(self) -> dict[str, Any]:
        return count(len(self._members()))

    def products(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
        sort_key: str = "COLLECTION_DEFAULT",
    ) -> dict[str, Any]:
        # Shopify's ProductCollectionSortKeys: the collection's own order unless a key says
        # otherwise (the sandbox keeps no sales, so BEST_SELLING is that order too).
        members = self._members()
        position = {product.id: index for index, product in enumerate(members)}
        by_key: dict[str, Callable[[Product], object]] = {
            "ID": lambda p: p.id,
            "TITLE": lambda p: p.title,
            "CREATED": lambda p: p.created_at,
            "PRICE": lambda p: min((float(v.price) for v in p.variants), default=0.0),
        }
        return connection(
            members,
            PageArgs(first, after, last, before, reverse),
            record_id=lambda p: p.id,
            sort_value=by_key.get(sort_key, lambda p: position[p.id]),
            view=lambda p: ProductView(self._ctx, p),
        )


class WebhookSubscriptionView:
    typename: ClassVar[str] = "WebhookSubscription"

    def __init__(self, subscription: WebhookSubscription) -> None:
        s = subscription
        self.id = gid("WebhookSubscription", s.id)
        self.legacy_resource_id = str(s.id)
        self.topic = TOPIC_ENUMS.get(s.topic, s.topic.upper().replace("/", "_"))
        self.format = s.format
        self.callback_url = s.uri
        self.uri = s.uri
        self.endpoint = {"__typename": "WebhookHttpEndpoint", "callbackUrl": s.uri}
        self.include_fields = list(s.include_fields)
        self.filter = s.filter
        self.api_version = {
            "handle": s.api_version,
            "displayName": s.api_version,
            "supported": s.api_version in SUPPORTED_API_VERSIONS,
        }
        self.created_at = s.created_at
        self.updated_at = s.updated_at


def product_connection(
    ctx: RequestContext,
    products: Sequence[Product],
    args: PageArgs,
    sort_key: str,
    query: str | None = None,
) -> dict[str, Any]:
    return connection(
        search(products, query, PRODUCT_SEARCH),
        args,
        record_id=lambda p: p.id,
        sort_value=PRODUCT_SORT.get(sort_key, PRODUCT_SORT["ID"]),
        view=lambda p: ProductView(ctx, p),
    )


def collection_connection(
    ctx: RequestContext,
    collections: Sequence[Collection],
    args: PageArgs,
    sort_key: str,
    query: str | None = None,
) -> dict[str, Any]:
    return connection(
        search(collections, query, COLLECTION_SEARCH),
        args,
        record_id=lambda c: c.id,
        sort_value=COLLECTION_SORT.get(sort_key, COLLECTION_SORT["ID"]),
        view=lambda c: CollectionView(ctx, c),
    )
