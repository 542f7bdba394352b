"""Fulfillments both ways: whoever fulfils a funnel's orders tells the other side.

With Fulfilled by CRM on, the CRM is the one fulfilling: its fulfillment (tracking number,
carrier) fulfils the Shopify order, and Shopify's fulfillments are not sent back to it.
Without it, Shopify's fulfillments reach the CRM order, with their status as it moves on
(pending, then success, or failed, or cancelled).

A fulfillment of an order that is not on the other side yet waits for it, up to
`ORDER_WAIT`: usually the order's own event is a moment behind. An order that never comes
(placed before the app was installed, refused by the CRM) ends the wait on sync health, in
words, with a retry for once the order is there.
"""

from __future__ import annotations

from datetime import timedelta

from connectors.errors import Rejected
from connectors.shopify_ids import gid, gid_of
from jobqueue.inbox import InboxEventData
from jobqueue.jobs import RetryLater, wait_is_over, waited
from lib.clock import utcnow
from sync import activity, links
from sync.context import SyncContext
from sync.flows.shared import crm_data, from_shopify
from sync.gate import funnel_of_campaign, keeping_orders
from sync.order_mapping import crm_fulfillment_body
from sync.tables import SyncDirection, SyncEntity, SyncOutcome

ORDER_NOT_SYNCED_YET_SECONDS = 60.0
ORDER_WAIT = timedelta(hours=1)
ORDER_NEVER_CAME = {
    SyncDirection.TO_CRM: "This fulfillment was not sent to the CRM: its order is not in the CRM "
    "(it was placed before FunnelSync was installed, or the CRM refused it; see the order's own "
    "entry). Once the order is in the CRM, retry.",
    SyncDirection.TO_SHOPIFY: "This fulfillment was not sent to Shopify: its order is not in "
    "Shopify (the CRM order did not reach Shopify; see the order's own entry). Once the order is "
    "in Shopify, retry.",
}


async def _wait_for_order(
    shop_domain: str, direction: SyncDirection, entity_ref: str, event: InboxEventData, why: str
) -> None:
    """Waits (a RetryLater) for the fulfillment's order to reach the other side; once it has
    waited `ORDER_WAIT`, tells the merchant on sync health instead, and the job ends."""
    if not wait_is_over(event.waiting_since, ORDER_WAIT, utcnow()):
        raise RetryLater(ORDER_NOT_SYNCED_YET_SECONDS, why, wait_at_most=ORDER_WAIT)
    await activity.record(
        shop_domain,
        SyncEntity.FULFILLMENT,
        direction,
        entity_ref,
        SyncOutcome.HELD,
        f"{ORDER_NEVER_CAME[direction]} (Waited {waited(ORDER_WAIT)}.)",
        inbox_event=event.id,
    )


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
        # signs every shop's deliveries) names an order this shop never had: nothing to wait
        # for. Asked once, before the wait starts.
        if event.waiting_since is None:
            shopify = await ctx.clients.shopify_for(shop_domain)
            if not (await shopify.graphql(ORDER_OF_SHOP, {"id": order_gid})).data.get("order"):
                return
        why = "the order has not reached the CRM yet"
        await _wait_for_order(shop_domain, SyncDirection.TO_CRM, fulfillment_gid, event, why)
        return
    crm = await ctx.clients.crm_for(shop_domain)
    crm_order = await crm.get(f"/api/v1/orders/{order_link.crm_id}") or {}
    funnel = funnel_of_campaign(funnels, crm_order.get("campaign_id"))
    if funnel is not None and funnel.fulfilled_by_crm:
        return  # the CRM fulfils this funnel's orders; Shopify's copy came from the CRM
    body = crm_fulfillment_body(fulfillment)
    existing = await crm.order_fulfillments(order_link.crm_id)
    known = next((row for row in existing if row.get("external_id") == body["external_id"]), None)
    if known is not None and all(known.get(field) == body[field] for field in body):
        return  # a repeat, or the CRM holds this already
    try:
        if known is not None:  # fulfillments/update: its status or tracking moved on
            created = await crm.update_fulfillment(order_link.crm_id, str(known["id"]), body)
        else:
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
        why = "the order has not reached Shopify yet"
        await _wait_for_order(shop_domain, SyncDirection.TO_SHOPIFY, crm_id, event, why)
        return
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
