"""The handlers sync provides for webhook topics, by the names its topics carry in the
registry (sync/topics.py); the composition root builds the inbox's dispatch from both."""

from __future__ import annotations

from functools import partial

from jobqueue.inbox import TopicHandler
from sync import catalog_import
from sync.context import SyncContext
from sync.flows import customers, fulfillments, orders, products


def topic_handlers(ctx: SyncContext) -> dict[str, TopicHandler]:
    flows = {
        "sync.product_to_crm": products.sync_product_to_crm,
        "sync.product_deleted_in_shopify": products.deactivate_deleted_product,
        "sync.collection_to_crm": products.sync_collection_change_to_crm,
        "sync.product_to_shopify": products.sync_product_to_shopify,
        "sync.product_deleted_in_crm": products.unlink_product_deleted_in_crm,
        "sync.customer_to_crm": customers.sync_customer_to_crm,
        "sync.customer_deleted_in_shopify": customers.delete_customer_in_crm,
        "sync.customer_to_shopify": customers.sync_customer_to_shopify,
        "sync.customer_deleted_in_crm": customers.delete_customer_in_shopify,
        "sync.order_to_crm": orders.sync_order_to_crm,
        "sync.order_to_shopify": orders.sync_order_to_shopify,
        "sync.order_updated_in_crm": orders.sync_order_update_to_shopify,
        "sync.fulfillment_to_crm": fulfillments.sync_fulfillment_to_crm,
        "sync.fulfillment_to_shopify": fulfillments.sync_fulfillment_to_shopify,
    }
    return {
        **{name: partial(flow, ctx) for name, flow in flows.items()},
        "sync.catalog_bulk_ready": catalog_import.bulk_operation_finished,
    }
