"""Every webhook topic we take from Shopify and from the CRM, why, and which handler applies it.

One registry per source, read by both ends: subscription (sync/subscriptions.py) registers the
topics delivered through a subscription, and the inbox's dispatch (onboarding/composition.py)
maps each topic to the handler its entry names, so a topic cannot be subscribed to and then
ignored, nor a handler wait for a topic nobody subscribes to
(tests/unit/onboarding/test_composition.py).

A topic's `handler` is the key of its handler among those the layers hand to the composition
root: sync's flows by the names below (sync/handlers.py), the privacy handlers of onboarding
(onboarding/privacy.py) likewise, and billing's by the topic itself, as billing keys the
handlers of its providers (billing.topic_handlers()). Stripe's events are billing's alone (it
subscribes to them in Stripe's dashboard) and are not in this registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jobqueue.tables import WebhookSource


class Delivery(StrEnum):
    """How a topic's webhooks reach us."""

    SUBSCRIPTION = "subscription"  # we subscribe: Shopify's webhookSubscriptionCreate, the CRM's API
    # Shopify sends it to the URLs in the app's configuration (the mandatory compliance topics);
    # no API subscription exists for it.
    APP_CONFIGURATION = "app configuration"


@dataclass(frozen=True)
class Topic:
    source: WebhookSource
    name: str  # as the webhook names it: X-Shopify-Topic ("products/update"), the CRM event's topic
    why: str
    handler: str
    delivery: Delivery = Delivery.SUBSCRIPTION

    @property
    def key(self) -> str:
        """How the inbox dispatches it: "shopify:products/update", "crm:product.updated"."""
        return f"{self.source}:{self.name}"

    @property
    def graphql_topic(self) -> str:
        """products/update -> PRODUCTS_UPDATE, Shopify's WebhookSubscriptionTopic."""
        return self.name.upper().replace("/", "_")

    @property
    def subscribed(self) -> bool:
        return self.delivery is Delivery.SUBSCRIPTION


def _shopify(name: str, why: str, handler: str, delivery: Delivery = Delivery.SUBSCRIPTION) -> Topic:
    return Topic(WebhookSource.SHOPIFY, name, why, handler, delivery)


def _crm(name: str, why: str, handler: str) -> Topic:
    return Topic(WebhookSource.CRM, name, why, handler)


PRODUCTS = "Keep Products Synchronized"
PRODUCT_GROUPS = f"{PRODUCTS}: product groups"
CUSTOMERS_TO_CRM = "Keep Orders Synchronized: customers to the CRM"
ORDERS_TO_CRM = "Keep Orders Synchronized: orders to the CRM"
FULFILLMENTS_TO_CRM = "fulfillments to the CRM when the CRM does not fulfil"
COMPLIANCE = "a mandatory compliance topic"

SHOPIFY_TOPICS: tuple[Topic, ...] = (
    _shopify("app/uninstalled", "revoke access and stop work on uninstall", "onboarding.uninstall"),
    _shopify(
        "app_subscriptions/update",
        "plan changes approved, declined or cancelled in Shopify's billing",
        "shopify:app_subscriptions/update",
    ),
    _shopify(
        "customers/data_request",
        f"export what we hold about a customer ({COMPLIANCE})",
        "onboarding.customer_data_request",
        Delivery.APP_CONFIGURATION,
    ),
    _shopify(
        "customers/redact",
        f"forget a customer in every domain ({COMPLIANCE})",
        "onboarding.customer_redact",
        Delivery.APP_CONFIGURATION,
    ),
    _shopify(
        "shop/redact",
        f"forget the shop 48 hours after uninstall ({COMPLIANCE})",
        "onboarding.shop_redact",
        Delivery.APP_CONFIGURATION,
    ),
    _shopify("products/create", PRODUCTS, "sync.product_to_crm"),
    _shopify("products/update", PRODUCTS, "sync.product_to_crm"),
    _shopify("products/delete", f"{PRODUCTS}: deactivated in the CRM", "sync.product_deleted_in_shopify"),
    # A product joining or leaving a collection changes its CRM product groups, yet Shopify
    # sends no products/update for it.
    _shopify("collections/create", PRODUCT_GROUPS, "sync.collection_to_crm"),
    _shopify("collections/update", PRODUCT_GROUPS, "sync.collection_to_crm"),
    _shopify("collections/delete", PRODUCT_GROUPS, "sync.collection_to_crm"),
    _shopify("customers/create", CUSTOMERS_TO_CRM, "sync.customer_to_crm"),
    _shopify("customers/update", CUSTOMERS_TO_CRM, "sync.customer_to_crm"),
    _shopify("customers/delete", CUSTOMERS_TO_CRM, "sync.customer_deleted_in_shopify"),
    _shopify("orders/create", ORDERS_TO_CRM, "sync.order_to_crm"),
    _shopify("orders/updated", ORDERS_TO_CRM, "sync.order_to_crm"),
    _shopify("fulfillments/create", FULFILLMENTS_TO_CRM, "sync.fulfillment_to_crm"),
    _shopify("fulfillments/update", FULFILLMENTS_TO_CRM, "sync.fulfillment_to_crm"),
    _shopify("bulk_operations/finish", "the catalog import's bulk file is ready", "sync.catalog_bulk_ready"),
)

# What the CRM tells us about: the merchant's changes made in the CRM flow back to Shopify.
CUSTOMERS_TO_SHOPIFY = "Keep Orders Synchronized: customers to Shopify"
CRM_TOPICS: tuple[Topic, ...] = (
    _crm("product.updated", f"{PRODUCTS}: price, SKU, barcode, weight", "sync.product_to_shopify"),
    _crm(
        "product.deleted", "unlinked, never deleted in Shopify; on sync health", "sync.product_deleted_in_crm"
    ),
    _crm("customer.created", CUSTOMERS_TO_SHOPIFY, "sync.customer_to_shopify"),
    _crm("customer.updated", CUSTOMERS_TO_SHOPIFY, "sync.customer_to_shopify"),
    _crm("customer.deleted", CUSTOMERS_TO_SHOPIFY, "sync.customer_deleted_in_crm"),
    _crm("order.created", "Keep Orders Synchronized: funnel orders to Shopify", "sync.order_to_shopify"),
    _crm("order.updated", "a funnel order's note, address, status to Shopify", "sync.order_updated_in_crm"),
    _crm("fulfillment.created", "Fulfilled by CRM: tracking to Shopify", "sync.fulfillment_to_shopify"),
)

WEBHOOK_TOPICS: tuple[Topic, ...] = SHOPIFY_TOPICS + CRM_TOPICS

# What subscription registers: Shopify's GraphQL topic names, the CRM's topic names.
SHOPIFY_WEBHOOK_TOPICS: tuple[str, ...] = tuple(t.graphql_topic for t in SHOPIFY_TOPICS if t.subscribed)
CRM_WEBHOOK_TOPICS: tuple[str, ...] = tuple(t.name for t in CRM_TOPICS if t.subscribed)

# Started once the CRM account exists (sync/subscriptions.py).
JOB_IMPORT_CATALOG = "catalog.import"
JOB_RECONCILE = "sync.reconcile"
