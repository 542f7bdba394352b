"""The Shopify webhook topics the product subscribes to, and why."""

from __future__ import annotations

# GraphQL WebhookSubscriptionTopic values. The compliance topics (customers/data_request,
# customers/redact, shop/redact) are not in this list: Shopify sends them to the URLs in
# the app's configuration, not to API subscriptions.
SHOPIFY_WEBHOOK_TOPICS: dict[str, str] = {
    "APP_UNINSTALLED": "revoke access and stop work when the merchant uninstalls",
    "APP_SUBSCRIPTIONS_UPDATE": "plan changes approved, declined or cancelled in Shopify's billing",
    "PRODUCTS_CREATE": "Keep Products Synchronized",
    "PRODUCTS_UPDATE": "Keep Products Synchronized",
    "PRODUCTS_DELETE": "Keep Products Synchronized",
    # A product joining or leaving a collection changes its CRM product groups, yet Shopify
    # sends no products/update for it.
    "COLLECTIONS_CREATE": "Keep Products Synchronized (product groups)",
    "COLLECTIONS_UPDATE": "Keep Products Synchronized (product groups)",
    "COLLECTIONS_DELETE": "Keep Products Synchronized (product groups)",
    "CUSTOMERS_CREATE": "customers to the CRM",
    "CUSTOMERS_UPDATE": "customers to the CRM",
    "CUSTOMERS_DELETE": "customers to the CRM",
    "ORDERS_CREATE": "Keep Orders Synchronized",
    "ORDERS_UPDATED": "Keep Orders Synchronized",
    "FULFILLMENTS_CREATE": "fulfillments to the CRM when the CRM does not fulfil",
    "FULFILLMENTS_UPDATE": "fulfillments to the CRM when the CRM does not fulfil",
    "BULK_OPERATIONS_FINISH": "the catalog import's bulk file is ready",
}

# What the CRM tells us about: the merchant's changes made in the CRM flow back to Shopify.
CRM_WEBHOOK_TOPICS = (
    "product.updated",
    "product.deleted",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "order.created",
    "order.updated",
    "fulfillment.created",
)

# Started once the CRM account exists (sync/subscriptions.py).
JOB_IMPORT_CATALOG = "catalog.import"
JOB_RECONCILE = "sync.reconcile"


def rest_topic(graphql_topic: str) -> str:
    """PRODUCTS_UPDATE -> products/update, the form webhooks carry in X-Shopify-Topic."""
    resource, _, action = graphql_topic.lower().partition("_")
    return f"{resource}/{action}"
