"""Changes made in the CRM, written to Shopify: customers, funnel orders and fulfillments.

CRM events about entities that came from Shopify (their external id is a Shopify id) or
that carry the content both sides already hold are our own writes echoing back and stop
here. A CRM order's later edits are not sent (seeds/003: Shopify's order stays as created).
"""

from __future__ import annotations

import contextlib
from typing import Any

import structlog

from billing.usage import claim_synced_order
from connectors.crm import CrmUser
from connectors.errors import Rejected
from jobqueue.inbox import InboxEventData
from jobqueue.jobs import RetryLater
from lib.clock import utcnow
from sync import activity, links
from sync.context import SyncContext
from sync.customer_mapping import Canonical, customer_from_crm, customer_from_shopify, shopify_customer_input
from sync.gate import funnel_of_campaign, keeping_orders
from sync.order_mapping import crm_order_tag, shopify_order_input
from sync.reconciliation import customer_from_graphql
from sync.tables import SyncDirection, SyncEntity, SyncOutcome

log = structlog.get_logger("sync.flows.crm_to_shopify")
ORDER_LIMIT_PAUSE_SECONDS = 3600.0

CUSTOMER_CREATE = """
mutation SyncCustomerCreate($input: CustomerInput!) {
  customerCreate(input: $input) { customer { id } userErrors { field message } }
}
"""
CUSTOMER_UPDATE = """
mutation SyncCustomerUpdate($input: CustomerInput!) {
  customerUpdate(input: $input) { customer { id } userErrors { field message } }
}
"""
CUSTOMER_DELETE = """
mutation SyncCustomerDelete($id: ID!) {
  customerDelete(input: {id: $id}) { deletedCustomerId userErrors { field message } }
}
"""
FIND_CUSTOMERS = """
query SyncFindCustomers($query: String!) {
  customers(first: 5, query: $query) {
    nodes {
      id firstName lastName email phone tags emailMarketingConsent { marketingState }
      defaultAddress { firstName lastName address1 address2 city provinceCode zip countryCodeV2 phone }
    }
  }
}
"""
FIND_ORDER = """
query SyncFindOrder($query: String!) {
  orders(first: 1, query: $query) { nodes { id } }
}
"""
ORDER_CREATE = """
mutation SyncOrderCreate($order: OrderCreateOrderInput!) {
  orderCreate(order: $order) { order { id } userErrors { field message } }
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


def _data(event: InboxEventData) -> dict[str, Any]:
    data = event.payload.get("data")
    return data if isinstance(data, dict) else {}


def _from_shopify(data: dict[str, Any], kind: str) -> str | None:
    """The Shopify id when the CRM entity came from Shopify (its external id is Shopify's gid)."""
    external_id = str(data.get("external_id") or "")
    return external_id if external_id.startswith(f"gid://shopify/{kind}/") else None


async def _same_customer_in_shopify(
    ctx: SyncContext, shop_domain: str, crm_id: str, canonical: Canonical
) -> str | None:
    """After Shopify refused to create the customer because its email is taken: the Shopify
    customer that is this very one, if any. Either our own earlier customerCreate made it and
    its answer was lost (a timeout, a worker killed mid-call), so it is unlinked and holds
    exactly this content; or another job of this customer running alongside (its order's)
    made and linked it. A different customer with the same email stays refused (seeds/003)."""
    if not canonical["email"]:
        return None
    shopify = await ctx.clients.shopify_for(shop_domain)
    found = await shopify.graphql(FIND_CUSTOMERS, {"query": f'email:"{canonical["email"]}"'})
    for node in (found.data.get("customers") or {}).get("nodes") or []:
        link = await links.by_shopify_id(shop_domain, SyncEntity.CUSTOMER, str(node["id"]))
        if link is not None and link.crm_id == crm_id:
            return str(node["id"])
        if link is None and customer_from_shopify(customer_from_graphql(node)) == canonical:
            return str(node["id"])
    return None


async def _shopify_customer(ctx: SyncContext, shop_domain: str, customer: dict[str, Any]) -> str:
    """The Shopify customer of a CRM customer (as the CRM holds it now), created or brought up
    to date and linked; returns its gid. Raises Rejected when Shopify refuses it."""
    crm_id = str(customer.get("id"))
    canonical = customer_from_crm(customer)
    link = await links.by_crm_id(shop_domain, SyncEntity.CUSTOMER, crm_id)
    shopify_id = link.shopify_id if link else _from_shopify(customer, "Customer")
    if link is not None and shopify_id and link.unchanged(canonical):
        return shopify_id
    shopify = await ctx.clients.shopify_for(shop_domain)
    if shopify_id:
        await shopify.mutate(
            CUSTOMER_UPDATE, {"input": shopify_customer_input(canonical, shopify_id)}, "customerUpdate"
        )
    else:
        try:
            created = await shopify.mutate(
                CUSTOMER_CREATE, {"input": shopify_customer_input(canonical)}, "customerCreate"
            )
            shopify_id = str(created["customer"]["id"])
        except Rejected:
            shopify_id = await _same_customer_in_shopify(ctx, shop_domain, crm_id, canonical)
            if shopify_id is None:
                raise
    await links.save(
        shop_domain, SyncEntity.CUSTOMER, shopify_id=shopify_id, crm_id=crm_id, canonical=canonical
    )
    await activity.record(
        shop_domain, SyncEntity.CUSTOMER, SyncDirection.TO_SHOPIFY, crm_id, SyncOutcome.SYNCED
    )
    return shopify_id


async def sync_customer_to_shopify(ctx: SyncContext, event: InboxEventData) -> None:
    shop_domain, customer = event.shop_domain, _data(event)
    if not shop_domain or not keeping_orders(await ctx.live_funnels(shop_domain)):
        return
    crm_id = str(customer.get("id"))
    link = await links.by_crm_id(shop_domain, SyncEntity.CUSTOMER, crm_id)
    if link is not None and link.shopify_id and link.unchanged(customer_from_crm(customer)):
        # The event holds what both sides hold already: the CRM telling us about our own
        # write, or a repeat. Nothing to read; a later edit comes with an event of its own.
        return
    # The customer as the CRM holds it now, not the event's copy: events come more than once
    # and out of order, and a stale copy would undo a later edit and echo back and forth.
    crm = await ctx.clients.crm_for(shop_domain)
    customer = await crm.get(f"/api/v1/customers/{crm_id}") or {}
    if not customer:
        return  # deleted since: customer.deleted follows
    try:
        await _shopify_customer(ctx, shop_domain, customer)
    except Rejected as refused:
        label = str(customer.get("email") or "")
        await activity.record_rejection(
            shop_domain, SyncEntity.CUSTOMER, SyncDirection.TO_SHOPIFY, crm_id, refused, event.id, label=label
        )


async def delete_customer_in_shopify(ctx: SyncContext, event: InboxEventData) -> None:
    shop_domain, customer = event.shop_domain, _data(event)
    if not shop_domain or not keeping_orders(await ctx.live_funnels(shop_domain)):
        return
    crm_id = str(customer.get("id"))
    link = await links.by_crm_id(shop_domain, SyncEntity.CUSTOMER, crm_id)
    if link is None or link.shopify_id is None:
        return
    shopify = await ctx.clients.shopify_for(shop_domain)
    try:
        await shopify.mutate(CUSTOMER_DELETE, {"id": link.shopify_id}, "customerDelete")
    except Rejected as refused:
        await activity.record(
            shop_domain,
            SyncEntity.CUSTOMER,
            SyncDirection.TO_SHOPIFY,
            crm_id,
            SyncOutcome.HELD,
            f"The customer was not deleted in Shopify: {'; '.join(refused.fields.values()) or refused}",
            inbox_event=event.id,
        )
        return
    await links.forget(shop_domain, SyncEntity.CUSTOMER, crm_id=crm_id)
    await activity.record(
        shop_domain,
        SyncEntity.CUSTOMER,
        SyncDirection.TO_SHOPIFY,
        crm_id,
        SyncOutcome.SYNCED,
        "Deleted in Shopify.",
    )


async def _variant_ids(crm: CrmUser, shop_domain: str, order: dict[str, Any]) -> dict[str, str]:
    """CRM product id → Shopify variant gid for the order's catalog items."""
    found: dict[str, str] = {}
    for item in order.get("items") or []:
        product_id = str(item.get("product_id") or "")
        if not product_id or product_id in found:
            continue
        link = await links.by_crm_id(shop_domain, SyncEntity.PRODUCT, product_id)
        if link is not None and link.shopify_id:
            found[product_id] = link.shopify_id
            continue
        product = await crm.get(f"/api/v1/products/{product_id}")
        variant_id = _from_shopify(product or {}, "ProductVariant")
        if variant_id:
            found[product_id] = variant_id
    return found


async def sync_order_to_shopify(ctx: SyncContext, event: InboxEventData) -> None:
    """A funnel order placed in the CRM becomes a Shopify order (its customer created if unknown)."""
    shop_domain, order = event.shop_domain, _data(event)
    if not shop_domain or order.get("source") == "shopify" or _from_shopify(order, "Order"):
        return  # the CRM's copy of a Shopify order
    funnel = funnel_of_campaign(await ctx.live_funnels(shop_domain), order.get("campaign_id"))
    if funnel is None or not funnel.keep_orders_synced:
        return
    crm_id = str(order.get("id"))
    if await links.by_crm_id(shop_domain, SyncEntity.ORDER, crm_id) is not None:
        return  # already in Shopify; the CRM's later edits are not sent
    if not await claim_synced_order(shop_domain, f"crm:{crm_id}", utcnow()):
        await activity.record(
            shop_domain,
            SyncEntity.ORDER,
            SyncDirection.TO_SHOPIFY,
            crm_id,
            SyncOutcome.HELD,
            "Your plan's synced orders for this month are used up. The order waits and is sent "
            "as soon as you upgrade or the next month starts.",
        )
        raise RetryLater(ORDER_LIMIT_PAUSE_SECONDS, "synced orders limit reached")
    # A create whose answer was lost (a timeout, a worker killed mid-call) may have happened
    # all the same: the Shopify order carries the CRM order's tag, so look for it first.
    shopify = await ctx.clients.shopify_for(shop_domain)
    found = await shopify.graphql(FIND_ORDER, {"query": f'tag:"{crm_order_tag(crm_id)}"'})
    existing = (found.data.get("orders") or {}).get("nodes") or []
    if existing:
        await links.save(
            shop_domain,
            SyncEntity.ORDER,
            shopify_id=str(existing[0]["id"]),
            crm_id=crm_id,
            canonical={"crm_order": crm_id},
        )
        await activity.record(
            shop_domain, SyncEntity.ORDER, SyncDirection.TO_SHOPIFY, crm_id, SyncOutcome.SYNCED
        )
        return
    crm = await ctx.clients.crm_for(shop_domain)
    customer = await crm.get(f"/api/v1/customers/{order.get('customer_id')}") or {}
    order_input = shopify_order_input(order, customer, await _variant_ids(crm, shop_domain, order))
    if customer:
        # The order's customer goes through the customer flow first, whichever of the CRM's
        # customer.created and order.created is handled first: one Shopify customer, linked.
        # If Shopify refuses the customer, its own event reports why, and the order still
        # finds (or makes) its customer by email as before.
        with contextlib.suppress(Rejected):
            order_input["customer"] = {
                "toAssociate": {"id": await _shopify_customer(ctx, shop_domain, customer)}
            }
    try:
        created = await shopify.mutate(ORDER_CREATE, {"order": order_input}, "orderCreate")
    except Rejected as refused:
        await activity.record_rejection(
            shop_domain, SyncEntity.ORDER, SyncDirection.TO_SHOPIFY, crm_id, refused, event.id
        )
        return
    shopify_id = str(created["order"]["id"])
    await links.save(
        shop_domain, SyncEntity.ORDER, shopify_id=shopify_id, crm_id=crm_id, canonical={"crm_order": crm_id}
    )
    await activity.record(shop_domain, SyncEntity.ORDER, SyncDirection.TO_SHOPIFY, crm_id, SyncOutcome.SYNCED)
    log.info("order_synced", shop=shop_domain, order=crm_id, direction=SyncDirection.TO_SHOPIFY)


async def sync_fulfillment_to_shopify(ctx: SyncContext, event: InboxEventData) -> None:
    """Fulfilled by CRM on: the CRM's fulfillment (tracking number, carrier) fulfils the Shopify order."""
    shop_domain, fulfillment = event.shop_domain, _data(event)
    if not shop_domain or _from_shopify(fulfillment, "Fulfillment"):
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
    shopify_order = _from_shopify(order, "Order") or (order_link.shopify_id if order_link else None)
    if shopify_order is None:
        raise RetryLater(30.0, "the order has not reached Shopify yet")
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
