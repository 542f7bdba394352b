"""Fulfillments both ways: whoever fulfils a funnel's orders tells the other side.

With Fulfilled by CRM on, the CRM is the one fulfilling: its fulfillment (tracking number,
carrier) fulfils the Shopify order, and Shopify's fulfillments are not sent back to it.
Without it, Shopify's fulfillments reach the CRM order.
"""

from __future__ import annotations

from connectors.errors import Rejected
from connectors.shopify_ids import gid, gid_of
from jobqueue.inbox import InboxEventData
from jobqueue.jobs import RetryLater
from sync import activity, links
from sync.context import SyncContext
from sync.flows.shared import crm_data, from_shopify
from sync.gate import funnel_of_campaign, keeping_orders
from sync.order_mapping import crm_fulfillment_body
from sync.tables import SyncDirection, SyncEntity, SyncOutcome

ORDER_NOT_SYNCED_YET_SECONDS = 30.0

ORDER_OF_SHOP = """
query SyncFulfilledOrder($id: ID!) {
  order(id: $id) { id }
}
"""
OPEN_FULFILLMENT_ORDERS = """
query SyncFulfillmentOrders($id: ID!) {
  order(id: $id) { id fulfillmentOrders(first: 10) { nodes { id status } } }
}
"""
FULFILLMENT_CREATE = """
mutation SyncFulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) { fulfillment { id } userErrors { field message } }
}
"""


async def sync_fulfillment_to_crm(ctx: SyncContext, event: InboxEventData) -> None:
    """Shopify's fulfillment (tracking number, carrier) on the CRM order, when the CRM does not fulfil."""
    shop_domain, fulfillment = event.shop_domain, event.payload
    if not shop_domain:
        return
    funnels = await ctx.live_funnels(shop_domain)
    if not keeping_orders(funnels):
        return
    fulfillment_gid = gid_of("Fulfillment", fulfillment)
    order_gid = gid("Order", fulfillment.get("order_id"))
    order_link = await links.by_shopify_id(shop_domain, SyncEntity.ORDER, order_gid)
    if order_link is None or order_link.crm_id is None:
        # Another shop's captured fulfillment re-sent under this shop's domain (one app secret
        # signs every shop's deliveries) names an order this shop never had: nothing to wait for.
        shopify = await ctx.clients.shopify_for(shop_domain)
        if not (await shopify.graphql(ORDER_OF_SHOP, {"id": order_gid})).data.get("order"):
            return
        raise RetryLater(ORDER_NOT_SYNCED_YET_SECONDS, "the order has not reached the CRM yet")
    crm = await ctx.clients.crm_for(shop_domain)
    crm_order = await crm.get(f"/api/v1/orders/{order_link.crm_id}") or {}
    funnel = funnel_of_campaign(funnels, crm_order.get("campaign_id"))
    if funnel is not None and funnel.fulfilled_by_crm:
        return  # the CRM fulfils this funnel's orders; Shopify's copy came from the CRM
    body = crm_fulfillment_body(fulfillment)
    existing = await crm.order_fulfillments(order_link.crm_id)
    if any(row.get("external_id") == body["external_id"] for row in existing):
        return
    try:
        created = await crm.create_fulfillment(order_link.crm_id, body)
    except Rejected as refused:
        await activity.record_rejection(
            shop_domain, SyncEntity.FULFILLMENT, SyncDirection.TO_CRM, fulfillment_gid, refused, event.id
        )
        return
    await links.save(
        shop_domain,
        SyncEntity.FULFILLMENT,
        shopify_id=fulfillment_gid,
        crm_id=str(created["id"]),
        canonical=body,
    )
    await activity.record(
        shop_domain, SyncEntity.FULFILLMENT, SyncDirection.TO_CRM, fulfillment_gid, SyncOutcome.SYNCED
    )


async def sync_fulfillment_to_shopify(ctx: SyncContext, event: InboxEventData) -> None:
    """Fulfilled by CRM on: the CRM's fulfillment (tracking number, carrier) fulfils the Shopify order."""
    shop_domain, fulfillment = event.shop_domain, crm_data(event)
    if not shop_domain or from_shopify(fulfillment, "Fulfillment"):
        return
    crm_id = str(fulfillment.get("id"))
    if await links.by_crm_id(shop_domain, SyncEntity.FULFILLMENT, crm_id) is not None:
        return
    crm = await ctx.clients.crm_for(shop_domain)
    order_id = str(fulfillment.get("order_id"))
    order = await crm.get(f"/api/v1/orders/{order_id}") or {}
    funnel = funnel_of_campaign(await ctx.live_funnels(shop_domain), order.get("campaign_id"))
    if funnel is None or not funnel.fulfilled_by_crm or not funnel.keep_orders_synced:
        return
    order_link = await links.by_crm_id(shop_domain, SyncEntity.ORDER, order_id)
    shopify_order = from_shopify(order, "Order") or (order_link.shopify_id if order_link else None)
    if shopify_order is None:
        raise RetryLater(ORDER_NOT_SYNCED_YET_SECONDS, "the order has not reached Shopify yet")
    shopify = await ctx.clients.shopify_for(shop_domain)
    found = await shopify.graphql(OPEN_FULFILLMENT_ORDERS, {"id": shopify_order})
    open_orders = [
        node["id"]
        for node in ((found.data.get("order") or {}).get("fulfillmentOrders") or {}).get("nodes", [])
        if node["status"] == "OPEN"
    ]
    if not open_orders:
        return  # already fulfilled in Shopify
    tracking = {"number": fulfillment.get("tracking_number"), "company": fulfillment.get("carrier")}
    variables = {
        "fulfillment": {
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo} for fo in open_orders],
            "trackingInfo": tracking,
            "notifyCustomer": True,
        }
    }
    try:
        created = await shopify.mutate(FULFILLMENT_CREATE, variables, "fulfillmentCreate")
    except Rejected as refused:
        await activity.record_rejection(
            shop_domain, SyncEntity.FULFILLMENT, SyncDirection.TO_SHOPIFY, crm_id, refused, event.id
        )
        return
    await links.save(
        shop_domain,
        SyncEntity.FULFILLMENT,
        shopify_id=str(created["fulfillment"]["id"]),
        crm_id=crm_id,
        canonical=tracking,
    )
    await activity.record(
        shop_domain, SyncEntity.FULFILLMENT, SyncDirection.TO_SHOPIFY, crm_id, SyncOutcome.SYNCED
    )
