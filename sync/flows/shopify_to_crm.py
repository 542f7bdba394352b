"""Customers, orders and fulfillments from Shopify to the CRM (Keep Orders Synchronized).

Customers travel with orders, so they follow the same setting. An order for a customer
the CRM does not know creates the customer first. With Fulfilled by CRM on, the CRM is
the one fulfilling: Shopify's fulfillments are not sent back to it.
"""

from __future__ import annotations

from datetime import datetime
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
from sync.customer_mapping import Canonical, crm_customer_body, customer_from_crm, customer_from_shopify
from sync.gate import funnel_of_campaign, funnel_of_order, keeping_orders
from sync.order_mapping import CRM_ORDER_SOURCE, crm_fulfillment_body, crm_order_body, shopify_order_lines
from sync.reconciliation import CUSTOMERS_QUERY, customer_from_graphql
from sync.tables import SyncDirection, SyncEntity, SyncOutcome

log = structlog.get_logger("sync.flows.shopify_to_crm")
ORDER_LIMIT_PAUSE_SECONDS = 3600.0
ORDER_NOT_SYNCED_YET_SECONDS = 30.0


def gid(kind: str, payload: dict[str, Any]) -> str:
    return str(payload.get("admin_graphql_api_id") or f"gid://shopify/{kind}/{payload.get('id')}")


async def _same_customer_in_crm(
    crm: CrmUser, shop_domain: str, customer_gid: str, canonical: Canonical
) -> str | None:
    """After the CRM refused to create the customer because its email is taken: the CRM
    customer that is this very one, if any. The Shopify customer was made from it by our own
    customerCreate whose answer was lost (a timeout, a worker killed mid-call), so it is
    unlinked and holds exactly this content; or another job linked the two meanwhile. A
    different customer with the same email stays refused (seeds/003)."""
    if not canonical["email"]:
        return None
    page = await crm.json("GET", "/api/v1/customers", params={"email": canonical["email"]})
    for row in page.get("data") or []:
        link = await links.by_crm_id(shop_domain, SyncEntity.CUSTOMER, str(row["id"]))
        if link is not None and link.shopify_id == customer_gid:
            return str(row["id"])
        if link is None and customer_from_crm(row) == canonical:
            return str(row["id"])
    return None


async def _crm_customer(
    crm: CrmUser, shop_domain: str, customer_gid: str, canonical: Canonical
) -> tuple[str, bool]:
    """The CRM customer for a Shopify customer, created or updated to `canonical`.

    Returns its CRM id and whether anything was written.
    """
    link = await links.by_shopify_id(shop_domain, SyncEntity.CUSTOMER, customer_gid)
    if link is not None and link.crm_id and link.unchanged(canonical):
        return link.crm_id, False
    external_id = customer_gid
    if link is not None and link.crm_id:
        # A customer born in the CRM keeps the CRM's external id.
        existing = await crm.get(f"/api/v1/customers/{link.crm_id}")
        external_id = str((existing or {}).get("external_id") or customer_gid)
    try:
        customer = await crm.upsert_customer(crm_customer_body(canonical, external_id))
    except Rejected:
        twin = None if link else await _same_customer_in_crm(crm, shop_domain, customer_gid, canonical)
        if twin is None:
            raise
        await links.save(
            shop_domain, SyncEntity.CUSTOMER, shopify_id=customer_gid, crm_id=twin, canonical=canonical
        )
        return twin, False
    crm_id = str(customer["id"])
    await links.save(
        shop_domain, SyncEntity.CUSTOMER, shopify_id=customer_gid, crm_id=crm_id, canonical=canonical
    )
    return crm_id, True


async def sync_customer_to_crm(ctx: SyncContext, event: InboxEventData) -> None:
    shop_domain = event.shop_domain
    if not shop_domain or not keeping_orders(await ctx.live_funnels(shop_domain)):
        return
    customer_gid = gid("Customer", event.payload)
    link = await links.by_shopify_id(shop_domain, SyncEntity.CUSTOMER, customer_gid)
    if link is not None and link.crm_id and link.unchanged(customer_from_shopify(event.payload)):
        # The event holds what both sides hold already: Shopify telling us about our own
        # write, or a repeat. Nothing to read; a later edit comes with an event of its own.
        return
    # The customer as Shopify holds it now, not the event's copy: webhooks come more than once
    # and out of order, and a stale copy would undo a later edit and echo back and forth.
    shopify = await ctx.clients.shopify_for(shop_domain)
    current = await shopify.graphql(CUSTOMERS_QUERY, {"ids": [customer_gid]})
    node = next(iter(current.data.get("nodes") or []), None)
    if not node:
        return  # deleted since: customers/delete follows
    crm = await ctx.clients.crm_for(shop_domain)
    try:
        _, written = await _crm_customer(
            crm, shop_domain, customer_gid, customer_from_shopify(customer_from_graphql(node))
        )
    except Rejected as refused:
        label = str(event.payload.get("email") or "")
        await activity.record_rejection(
            shop_domain,
            SyncEntity.CUSTOMER,
            SyncDirection.TO_CRM,
            customer_gid,
            refused,
            event.id,
            label=label,
        )
        return
    if written:
        await activity.record(
            shop_domain, SyncEntity.CUSTOMER, SyncDirection.TO_CRM, customer_gid, SyncOutcome.SYNCED
        )


async def delete_customer_in_crm(ctx: SyncContext, event: InboxEventData) -> None:
    """A customer deleted in Shopify is deleted in the CRM, unless an order of theirs is pending."""
    shop_domain = event.shop_domain
    if not shop_domain or not keeping_orders(await ctx.live_funnels(shop_domain)):
        return
    customer_gid = gid("Customer", event.payload)
    link = await links.by_shopify_id(shop_domain, SyncEntity.CUSTOMER, customer_gid)
    if link is None or link.crm_id is None:
        return
    crm = await ctx.clients.crm_for(shop_domain)
    try:
        await crm.delete_customer(link.crm_id)
    except Rejected as refused:
        await activity.record(
            shop_domain,
            SyncEntity.CUSTOMER,
            SyncDirection.TO_CRM,
            customer_gid,
            SyncOutcome.HELD,
            activity.plain_reason(SyncEntity.CUSTOMER, refused),
            inbox_event=event.id,
        )
        return
    await links.forget(shop_domain, SyncEntity.CUSTOMER, shopify_id=customer_gid)
    await activity.record(
        shop_domain,
        SyncEntity.CUSTOMER,
        SyncDirection.TO_CRM,
        customer_gid,
        SyncOutcome.SYNCED,
        "Deleted in the CRM.",
    )


def _order_customer(order: dict[str, Any]) -> tuple[str, Canonical]:
    """The order's customer (a guest checkout is known by its email) with the order's delivery data."""
    customer = order.get("customer") or {}
    if not customer.get("email"):
        customer = {
            **customer,
            "email": order.get("email"),
            "phone": customer.get("phone") or order.get("phone"),
        }
    customer_gid = gid("Customer", customer) if customer.get("id") else f"guest:{order.get('email')}"
    return customer_gid, customer_from_shopify(customer, order.get("shipping_address"))


async def _crm_product_ids(shop_domain: str, variant_ids: list[str]) -> dict[str, str]:
    """Variant gid → CRM product id for the variants the CRM's catalog holds."""
    found = {}
    for variant_id in variant_ids:
        link = await links.by_shopify_id(shop_domain, SyncEntity.PRODUCT, variant_id)
        if link is not None and link.crm_id:
            found[variant_id] = link.crm_id
    return found


async def sync_order_to_crm(ctx: SyncContext, event: InboxEventData, now: datetime | None = None) -> None:
    shop_domain, order = event.shop_domain, event.payload
    if not shop_domain or order.get("source_name") == CRM_ORDER_SOURCE:
        return  # an order we created from the CRM, echoing back
    variant_ids = [line["variant_id"] for line in shopify_order_lines(order) if line["variant_id"]]
    funnel = funnel_of_order(await ctx.live_funnels(shop_domain), variant_ids)
    if funnel is None:
        return
    order_gid = gid("Order", order)
    if not await claim_synced_order(shop_domain, order_gid, now or utcnow()):
        await activity.record(
            shop_domain,
            SyncEntity.ORDER,
            SyncDirection.TO_CRM,
            order_gid,
            SyncOutcome.HELD,
            "Your plan's synced orders for this month are used up. The order waits and is sent "
            "as soon as you upgrade or the next month starts.",
        )
        raise RetryLater(ORDER_LIMIT_PAUSE_SECONDS, "synced orders limit reached")
    crm = await ctx.clients.crm_for(shop_domain)
    customer_gid, customer = _order_customer(order)
    try:
        customer_id, _ = await _crm_customer(crm, shop_domain, customer_gid, customer)
        body = crm_order_body(
            order,
            customer_id=customer_id,
            product_ids=await _crm_product_ids(shop_domain, variant_ids),
            campaign_id=funnel.campaign_id,
        )
        link = await links.by_shopify_id(shop_domain, SyncEntity.ORDER, order_gid)
        if link is not None and link.unchanged(body):
            return
        created = await crm.upsert_order(body)
    except Rejected as refused:
        await activity.record_rejection(
            shop_domain,
            SyncEntity.ORDER,
            SyncDirection.TO_CRM,
            order_gid,
            refused,
            event.id,
            label=str(order.get("name") or ""),
        )
        return
    await links.save(
        shop_domain, SyncEntity.ORDER, shopify_id=order_gid, crm_id=str(created["id"]), canonical=body
    )
    await activity.record(shop_domain, SyncEntity.ORDER, SyncDirection.TO_CRM, order_gid, SyncOutcome.SYNCED)
    log.info("order_synced", shop=shop_domain, order=order_gid, direction=SyncDirection.TO_CRM)


async def sync_fulfillment_to_crm(ctx: SyncContext, event: InboxEventData) -> None:
    """Shopify's fulfillment (tracking number, carrier) on the CRM order, when the CRM does not fulfil."""
    shop_domain, fulfillment = event.shop_domain, event.payload
    if not shop_domain:
        return
    funnels = await ctx.live_funnels(shop_domain)
    if not keeping_orders(funnels):
        return
    fulfillment_gid = gid("Fulfillment", fulfillment)
    order_gid = f"gid://shopify/Order/{fulfillment.get('order_id')}"
    order_link = await links.by_shopify_id(shop_domain, SyncEntity.ORDER, order_gid)
    if order_link is None or order_link.crm_id is None:
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
