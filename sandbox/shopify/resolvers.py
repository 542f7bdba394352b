"""Root resolvers of the Admin API: the QueryRoot fields and the Mutation fields."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sandbox.shopify import billing
from sandbox.shopify.catalog import (
    PRODUCT_FIELDS,
    apply_product,
    apply_variant,
    create_product,
    create_variant,
    delete_product,
    find_variant_in,
    user_error,
    validate_product,
    validate_variant_creates,
    validate_variant_updates,
)
from sandbox.shopify.commerce_resolvers import CommerceRoot
from sandbox.shopify.graphql_errors import invalid_id, numeric_id
from sandbox.shopify.models import (
    Product,
    WebhookSubscription,
    gid,
    gid_kind,
    parse_gid,
    utcnow,
)
from sandbox.shopify.pagination import PageArgs
from sandbox.shopify.payloads import TOPICS
from sandbox.shopify.views import (
    PRODUCT_SEARCH,
    VARIANT_SEARCH,
    VARIANT_SORT,
    CollectionView,
    ProductView,
    ShopView,
    VariantView,
    WebhookSubscriptionView,
    app_installation_view,
    collection_connection,
    connection,
    count,
    media_view,
    product_connection,
    search,
)

# The scope each resource needs, for Shopify's "Access denied" errors.
_TOPIC_SCOPES = {
    "products": "read_products",
    "collections": "read_products",
    "inventory_levels": "read_inventory",
    "orders": "read_orders",
    "customers": "read_customers",
    "fulfillments": "read_fulfillments",
}


class Root(CommerceRoot):
    """The root value for queries and mutations of one request (customers, orders,
    fulfillments and bulk operations: see CommerceRoot, which also holds the context)."""

    # -- queries --------------------------------------------------------------------

    def shop(self) -> ShopView:
        return ShopView(self._ctx, self._shop)

    def current_app_installation(self) -> dict[str, Any]:
        return app_installation_view(self._ctx)

    def node(self, id: str) -> Any:
        kind = gid_kind(id)
        if kind is None:
            raise invalid_id(id)
        numeric = parse_gid(id, kind)
        assert numeric is not None
        if kind == "Shop":
            return ShopView(self._ctx, self._shop) if numeric == self._shop.id else None
        if kind == "WebhookSubscription":
            sub = self._shop.webhook_subscriptions.get(numeric)
            return WebhookSubscriptionView(sub) if sub else None
        if kind == "AppSubscription":
            charge = self._shop.app_subscriptions.get(numeric)
            return billing.subscription_view(charge) if charge else None
        handled, value = self._commerce_node(kind, numeric)
        if handled:
            return value
        self._require("node", "read_products")
        if kind == "Product":
            product = self._shop.products.get(numeric)
            return ProductView(self._ctx, product) if product else None
        if kind == "ProductVariant":
            found = self._ctx.sandbox.store.find_variant(self._shop, numeric)
            return VariantView(self._ctx, *found) if found else None
        if kind == "Collection":
            collection = self._shop.collections.get(numeric)
            return CollectionView(self._ctx, collection) if collection else None
        if kind == "MediaImage":
            for product in self._shop.products.values():
                for image in product.images:
                    if image.id == numeric:
                        return media_view(self._ctx, image)
        return None

    def nodes(self, ids: list[str]) -> list[Any]:
        return [self.node(i) for i in ids]

    def product(self, id: str) -> ProductView | None:
        self._require("product", "read_products")
        numeric = numeric_id(id, "Product")
        product = self._shop.products.get(numeric) if numeric is not None else None
        return ProductView(self._ctx, product) if product else None

    def product_by_handle(self, handle: str) -> ProductView | None:
        self._require("productByHandle", "read_products")
        product = next((p for p in self._shop.products.values() if p.handle == handle), None)
        return ProductView(self._ctx, product) if product else None

    def products(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
        sort_key: str = "ID",
        query: str | None = None,
    ) -> dict[str, Any]:
        self._require("products", "read_products")
        return product_connection(
            self._ctx,
            list(self._shop.products.values()),
            PageArgs(first, after, last, before, reverse),
            sort_key,
            query,
        )

    def products_count(self, query: str | None = None, limit: int | None = 10000) -> dict[str, Any]:
        self._require("productsCount", "read_products")
        products = list(self._shop.products.values())
        return count(len(search(products, query, PRODUCT_SEARCH)), limit)

    def product_variant(self, id: str) -> VariantView | None:
        self._require("productVariant", "read_products")
        numeric = numeric_id(id, "ProductVariant")
        found = self._ctx.sandbox.store.find_variant(self._shop, numeric) if numeric else None
        return VariantView(self._ctx, *found) if found else None

    def product_variants(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
        sort_key: str = "ID",
        query: str | None = None,
    ) -> dict[str, Any]:
        self._require("productVariants", "read_products")
        pairs = [(p, v) for p in self._shop.products.values() for v in p.variants]
        return connection(
            search(pairs, query, VARIANT_SEARCH),
            PageArgs(first, after, last, before, reverse),
            record_id=lambda pv: pv[1].id,
            sort_value=VARIANT_SORT.get(sort_key, VARIANT_SORT["ID"]),
            view=lambda pv: VariantView(self._ctx, pv[0], pv[1]),
        )

    def collection(self, id: str) -> CollectionView | None:
        self._require("collection", "read_products")
        numeric = numeric_id(id, "Collection")
        collection = self._shop.collections.get(numeric) if numeric is not None else None
        return CollectionView(self._ctx, collection) if collection else None

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
        self._require("collections", "read_products")
        return collection_connection(
            self._ctx,
            list(self._shop.collections.values()),
            PageArgs(first, after, last, before, reverse),
            sort_key,
            query,
        )

    def webhook_subscription(self, id: str) -> WebhookSubscriptionView | None:
        numeric = numeric_id(id, "WebhookSubscription")
        sub = self._shop.webhook_subscriptions.get(numeric) if numeric is not None else None
        return WebhookSubscriptionView(sub) if sub else None

    def webhook_subscriptions(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
        topics: list[str] | None = None,
        callback_url: str | None = None,
        uri: str | None = None,
    ) -> dict[str, Any]:
        wanted_topics = {TOPICS[t] for t in topics} if topics else None
        subs = [
            s
            for s in self._shop.webhook_subscriptions.values()
            if (wanted_topics is None or s.topic in wanted_topics)
            and (callback_url is None or s.uri == callback_url)
            and (uri is None or s.uri == uri)
        ]
        return connection(
            subs,
            PageArgs(first, after, last, before, reverse),
            record_id=lambda s: s.id,
            sort_value=lambda s: s.id,
            view=WebhookSubscriptionView,
        )

    # -- mutations ------------------------------------------------------------------

    def _product_for(self, raw_id: object, field: list[str]) -> tuple[Product | None, list[Any]]:
        numeric = numeric_id(raw_id, "Product") if isinstance(raw_id, str) else None
        product = self._shop.products.get(numeric) if numeric is not None else None
        if product is None:
            return None, [user_error(field, "Product does not exist")]
        return product, []

    def product_create(self, product: dict[str, Any] | None = None) -> dict[str, Any]:
        # Shopify's schema lets `product` be null: nothing given is a product without a title.
        product = product or {}
        self._require("productCreate", "write_products")
        errors = validate_product(self._shop, product, product_id=None, creating=True)
        if errors:
            return {"product": None, "userErrors": errors}
        created = create_product(self._ctx.sandbox.store, self._shop, product)
        self._ctx.product_changed("products/create", created)
        return {"product": ProductView(self._ctx, created), "userErrors": []}

    def product_update(self, product: dict[str, Any] | None = None) -> dict[str, Any]:
        product = product or {}  # null in Shopify's schema too: no id, so no product to update
        self._require("productUpdate", "write_products")
        target, errors = self._product_for(product.get("id"), ["id"])
        if target is None:
            return {"product": None, "userErrors": errors}
        changes = {k: v for k, v in product.items() if k in PRODUCT_FIELDS}
        errors = validate_product(self._shop, changes, product_id=target.id, creating=False)
        if errors:
            return {"product": None, "userErrors": errors}
        apply_product(target, changes)
        self._ctx.product_changed("products/update", target)
        return {"product": ProductView(self._ctx, target), "userErrors": []}

    def product_delete(self, input: dict[str, Any]) -> dict[str, Any]:
        self._require("productDelete", "write_products")
        target, errors = self._product_for(input.get("id"), ["id"])
        if target is None:
            return {"deletedProductId": None, "userErrors": errors}
        delete_product(self._shop, target)
        self._ctx.product_deleted(target.id)
        return {"deletedProductId": gid("Product", target.id), "userErrors": []}

    def product_variants_bulk_update(
        self, product_id: str, variants: list[dict[str, Any]], allow_partial_updates: bool = False
    ) -> dict[str, Any]:
        self._require("productVariantsBulkUpdate", "write_products")
        target, errors = self._product_for(product_id, ["productId"])
        if target is None:
            errors[0]["code"] = "PRODUCT_DOES_NOT_EXIST"
            return {"product": None, "productVariants": None, "userErrors": errors}
        by_index = validate_variant_updates(target, variants)
        all_errors = [e for errs in by_index.values() for e in errs]
        if all_errors and not allow_partial_updates:
            return {"product": None, "productVariants": None, "userErrors": all_errors}
        updated = []
        for i, changes in enumerate(variants):
            if i in by_index:
                continue
            variant = find_variant_in(target, changes["id"])
            assert variant is not None
            apply_variant(target, variant, changes)
            updated.append(VariantView(self._ctx, target, variant))
        if updated:
            self._ctx.product_changed("products/update", target)
        return {
            "product": ProductView(self._ctx, target),
            "productVariants": updated,
            "userErrors": all_errors,
        }

    def product_variants_bulk_create(self, product_id: str, variants: list[dict[str, Any]]) -> dict[str, Any]:
        self._require("productVariantsBulkCreate", "write_products")
        target, errors = self._product_for(product_id, ["productId"])
        if target is None:
            errors[0]["code"] = "PRODUCT_DOES_NOT_EXIST"
            return {"product": None, "productVariants": None, "userErrors": errors}
        by_index = validate_variant_creates(target, variants)
        if by_index:
            all_errors = [e for errs in by_index.values() for e in errs]
            return {"product": None, "productVariants": None, "userErrors": all_errors}
        store = self._ctx.sandbox.store
        created = [create_variant(store, target, changes) for changes in variants]
        self._ctx.product_changed("products/update", target)
        return {
            "product": ProductView(self._ctx, target),
            "productVariants": [VariantView(self._ctx, target, v) for v in created],
            "userErrors": [],
        }

    def webhook_subscription_create(self, topic: str, webhook_subscription: dict[str, Any]) -> dict[str, Any]:
        rest_topic = TOPICS[topic]
        scope = _TOPIC_SCOPES.get(rest_topic.split("/")[0])
        field = ["webhookSubscription", "callbackUrl"]
        address = webhook_subscription.get("uri") or webhook_subscription.get("callbackUrl")
        errors = []
        if scope is not None and not self._ctx.has_scope(scope):
            errors.append(
                user_error(
                    ["topic"],
                    f"Access denied for {rest_topic} webhook. Required access: `{scope}` access scope.",
                )
            )
        if not address:
            errors.append(user_error(field, "Address can't be blank"))
        else:
            parts = urlsplit(str(address))
            if parts.scheme not in ("http", "https") or not parts.netloc:
                errors.append(
                    user_error(field, f"Address protocol {parts.scheme or address}:// is not supported")
                )
            elif any(
                s.topic == rest_topic and s.uri == address for s in self._shop.webhook_subscriptions.values()
            ):
                errors.append(user_error(field, "Address for this topic has already been taken"))
        if (webhook_subscription.get("format") or "JSON") != "JSON":
            errors.append(
                user_error(["webhookSubscription", "format"], "Only the JSON format is supported here")
            )
        if errors:
            return {"webhookSubscription": None, "userErrors": errors}
        now = utcnow()
        sub = WebhookSubscription(
            id=self._ctx.sandbox.store.allocate_id(),
            topic=rest_topic,
            uri=str(address),
            format="JSON",
            api_version=self._ctx.api_version,
            include_fields=list(webhook_subscription.get("includeFields") or []),
            filter=webhook_subscription.get("filter"),
            created_at=now,
            updated_at=now,
        )
        self._shop.webhook_subscriptions[sub.id] = sub
        self._ctx.changed = True
        return {"webhookSubscription": WebhookSubscriptionView(sub), "userErrors": []}

    def webhook_subscription_delete(self, id: str) -> dict[str, Any]:
        numeric = numeric_id(id, "WebhookSubscription")
        if numeric is None or self._shop.webhook_subscriptions.pop(numeric, None) is None:
            return {
                "deletedWebhookSubscriptionId": None,
                "userErrors": [user_error(["id"], "Webhook subscription does not exist")],
            }
        self._ctx.changed = True
        return {"deletedWebhookSubscriptionId": id, "userErrors": []}

    # -- Billing API ----------------------------------------------------------------

    def app_subscription_create(
        self,
        name: str,
        line_items: list[dict[str, Any]],
        return_url: str,
        trial_days: int | None = None,
        test: bool | None = None,
    ) -> dict[str, Any]:
        errors = billing.validate_create(self._shop, name, line_items, return_url, trial_days)
        if errors:
            return {"appSubscription": None, "confirmationUrl": None, "userErrors": errors}
        sandbox = self._ctx.sandbox
        store = sandbox.store
        charge = billing.build_subscription(
            subscription_id=store.allocate_id(),
            line_item_ids=[store.allocate_id() for _ in line_items],
            api_key=sandbox.config.api_key,
            name=name,
            line_items=line_items,
            return_url=return_url,
            trial_days=trial_days,
            test=test,
            now=billing.billing_now(sandbox.config),
        )
        self._shop.app_subscriptions[charge.id] = charge
        self._ctx.changed = True
        return {
            "appSubscription": billing.subscription_view(charge),
            "confirmationUrl": billing.confirmation_url(sandbox.config, self._shop, charge),
            "userErrors": [],
        }

    def app_subscription_cancel(self, id: str, prorate: bool | None = False) -> dict[str, Any]:
        # `prorate` is accepted and ignored: the sandbox moves no money.
        numeric = numeric_id(id, "AppSubscription")
        charge = self._shop.app_subscriptions.get(numeric) if numeric is not None else None
        if charge is None:
            return {
                "appSubscription": None,
                "userErrors": [user_error(["id"], "Subscription does not exist")],
            }
        if charge.status in billing.FINAL_STATUSES:
            return {
                "appSubscription": None,
                "userErrors": [
                    user_error(["id"], f"Cannot cancel a subscription that is {charge.status.lower()}")
                ],
            }
        now = billing.billing_now(self._ctx.sandbox.config)
        for changed in billing.transition(self._shop, charge, "CANCELLED", now):
            self._ctx.events.append((billing.TOPIC, billing.webhook_payload(self._shop, changed)))
        self._ctx.changed = True
        return {"appSubscription": billing.subscription_view(charge), "userErrors": []}
