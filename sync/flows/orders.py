"""Orders both ways (Keep Orders Synchronized).

Shopify → CRM: an order of a live funnel's products is written to the CRM with its customer
(an order for a customer the CRM does not know creates the customer first). CRM → Shopify:
a funnel order placed in the CRM becomes a Shopify order. CRM events about orders that came
from Shopify (their external id is a Shopify id) are our own writes echoing back and stop
here. For a funnel order placed in the CRM, the CRM is where the merchant runs it: its later
note and delivery address reach the Shopify order, and a cancellation or payment that an app
cannot set on a Shopify order is shown on sync health (its line items stay as created,
seeds/003). Each synced order counts against the plan's monthly limit.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

import structlog

from billing.usage import claim_synced_order
from connectors.crm import CrmUser
from connectors.errors import Rejected
from connectors.shopify_ids import gid_of
from jobqueue.inbox import InboxEventData
from jobqueue.jobs import RetryLater
from lib.clock import utcnow
from sync import activity, links
from sync.context import SyncContext
from sync.customer_mapping import (
    GRAPHQL_ADDRESS_FIELDS,
    GRAPHQL_CUSTOMER_FIELDS,
    Canonical,
    address_from_graphql,
    customer_from_graphql,
    customer_from_shopify,
)
from sync.flows.customers import crm_customer, shopify_customer
from sync.flows.shared import crm_data, from_shopify
from sync.gate import funnel_of_campaign, funnel_of_order
from sync.order_mapping import (
    CRM_ORDER_SOURCE,
    crm_order_body,
    crm_order_content,
    crm_order_tag,
    shopify_order_changes,
    shopify_order_input,
    shopify_order_lines,
    status_not_applied,
)
from sync.tables import SyncDirection, SyncEntity, SyncOutcome

log = structlog.get_logger("sync.flows.orders")
ORDER_LIMIT_PAUSE_SECONDS = 3600.0

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
ORDER_QUERY = f"""
query SyncOrder($id: ID!) {{
  order(id: $id) {{
    id name note cancelledAt displayFinancialStatus shippingAddress {{ {GRAPHQL_ADDRESS_FIELDS} }}
  }}
}}
"""
# The order's customer as Shopify holds it now: an order webhook's `customer` carries no
# consent or tags (since API 2025-01), and without protected customer data access no name,
# email or address; what the app may read, GraphQL gives.
ORDER_CUSTOMER_QUERY = f"""
query SyncOrderCustomer($id: ID!) {{
  order(id: $id) {{
    id email phone
    customer {{ {GRAPHQL_CUSTOMER_FIELDS} }}
    shippingAddress {{ {GRAPHQL_ADDRESS_FIELDS} }}
  }}
}}
"""
ORDER_UPDATE = """
mutation SyncOrderUpdate($input: OrderInput!) {
  orderUpdate(input: $input) { order { id } userErrors { field message } }
}
"""
# What the merchant does in Shopify for a CRM status the app cannot set on a Shopify order.
STATUS_NOT_APPLIED = {
    "cancelled": "Cancelled in the CRM. FunnelSync does not cancel orders in Shopify: cancel it "
    "there (and refund it if it was paid) so that it is not fulfilled.",
    "paid": "Paid in the CRM. FunnelSync does not mark orders as paid in Shopify: mark it as paid there.",
}
CHANGE_LABELS = {"note": "note", "shippingAddress": "delivery address"}


async def _claim_or_hold(
    shop_domain: str, direction: SyncDirection, entity_ref: str, order_key: str, now: datetime
) -> None:
    """Counts the order (`order_key`: Shopify's gid, "crm:{id}" for an order placed in the CRM)
    against the plan's synced orders of the month. Past the limit the order is held: sync health
    says why and its job waits an hour, then tries again; nothing is dropped."""
    if not await claim_synced_order(shop_domain, order_key, now):
        await activity.record(
            shop_domain,
            SyncEntity.ORDER,
            direction,
            entity_ref,
            SyncOutcome.HELD,
            "Your plan's synced orders for this month are used up. The order waits and is sent "
            "as soon as you upgrade or the next month starts.",
        )
        raise RetryLater(ORDER_LIMIT_PAUSE_SECONDS, "synced orders limit reached")


# What the merchant reads when Shopify gave FunnelSync too little of an order to send it.
PROTECTED_FIELD_LABELS = {"email": "customer's email or phone", "address": "delivery address"}


def protected_data_missing(missing: list[str]) -> str:
    labels = " and ".join(PROTECTED_FIELD_LABELS[field] for field in missing)
    return (
        f"Shopify did not give FunnelSync this order's {labels}, so it was not sent to the CRM. "
        "Either the order has none (add them to the order in Shopify), or FunnelSync's access to "
        "Shopify's protected customer data does not cover them (contact FunnelSync support). "
        "Then retry."
    )


def _delivery_address(order: dict[str, Any], current: dict[str, Any]) -> dict[str, Any] | None:
    """The order's delivery address, from the payload or else as GraphQL reads it."""
    payload_address = order.get("shipping_address")
    if payload_address and payload_address.get("address1"):
        return dict(payload_address)
    return address_from_graphql(current.get("shippingAddress")) or payload_address


def _order_customer(order: dict[str, Any], current: dict[str, Any]) -> tuple[str, Canonical, list[str]]:
    """The order's customer (a guest checkout is known by its email) with the order's delivery
    data: its gid, its canonical form, and the protected fields neither the payload nor
    Shopify's current order (`current`, as ORDER_CUSTOMER_QUERY reads it; empty when gone) holds."""
    node = current.get("customer")
    # Shopify's customer as it is now, consent and tags included; else the payload's, without.
    customer = customer_from_graphql(node) if node else dict(order.get("customer") or {})
    email = customer.get("email") or order.get("email") or current.get("email")
    phone = customer.get("phone") or order.get("phone") or current.get("phone")
    customer = {**customer, "email": email, "phone": phone}
    delivery = _delivery_address(order, current)
    missing = []
    if not email and not phone:
        missing.append("email")
    if delivery is not None and not delivery.get("address1"):
        missing.append("address")
    if node:
        customer_gid = str(node["id"])
    elif customer.get("id"):
        customer_gid = gid_of("Customer", customer)
    else:
        customer_gid = f"guest:{email}"
    return customer_gid, customer_from_shopify(customer, delivery), missing


async def _current_order(ctx: SyncContext, shop_domain: str, order_gid: str) -> dict[str, Any] | None:
    """The order's customer and delivery address as Shopify holds them now: None when this shop
    has no such order, empty when Shopify denies the app its customer's protected data."""
    shopify = await ctx.clients.shopify_for(shop_domain)
    try:
        found = await shopify.graphql(ORDER_CUSTOMER_QUERY, {"id": order_gid})
    except Rejected as refused:
        if "ACCESS_DENIED" not in refused.code:
            raise
        return {}
    order: dict[str, Any] | None = found.data.get("order")
    return order


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
    order_gid = gid_of("Order", order)
    current = await _current_order(ctx, shop_domain, order_gid)
    if current is None:
        # Shopify signs every shop's deliveries with the one app secret and not the shop header:
        # another shop's captured order re-sent under this shop's domain would pass the intake.
        # Only an order this shop holds is synced.
        log.warning("order_event_ignored", shop=shop_domain, order=order_gid, reason="not in this shop")
        return
    customer_gid, customer, missing = _order_customer(order, current)
    if missing:
        await activity.record(
            shop_domain,
            SyncEntity.ORDER,
            SyncDirection.TO_CRM,
            order_gid,
            SyncOutcome.HELD,
            protected_data_missing(missing),
            inbox_event=event.id,
            label=str(order.get("name") or ""),
        )
        return
    await _claim_or_hold(shop_domain, SyncDirection.TO_CRM, order_gid, order_gid, now or utcnow())
    crm = await ctx.clients.crm_for(shop_domain)
    delivery = _delivery_address(order, current)
    try:
        # No Shopify updatedAt for the link: the CRM gets the order's delivery address, not the
        # customer's own, so it does not hold Shopify's customer as of any updatedAt.
        customer_id, _ = await crm_customer(crm, shop_domain, customer_gid, customer)
        body = crm_order_body(
            {**order, "shipping_address": delivery},
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
        variant_id = from_shopify(product or {}, "ProductVariant")
        if variant_id:
            found[product_id] = variant_id
    return found


async def _count_order(ctx: SyncContext, shop_domain: str | None, order: dict[str, Any]) -> None:
    """Every CRM order of a live funnel's campaign is handed to analytics, whatever its source and
    whether or not the funnel keeps orders synced: the CRM's orders are what the funnel sold."""
    if not shop_domain or not order.get("id"):
        return
    funnel = funnel_of_campaign(await ctx.live_funnels(shop_domain), order.get("campaign_id"))
    if funnel is not None:
        await ctx.order_seen(shop_domain, funnel.funnel_id, order)


async def sync_order_to_shopify(ctx: SyncContext, event: InboxEventData) -> None:
    """A funnel order placed in the CRM becomes a Shopify order (its customer created if unknown)."""
    shop_domain, order = event.shop_domain, crm_data(event)
    await _count_order(ctx, shop_domain, order)
    if not shop_domain or order.get("source") == "shopify" or from_shopify(order, "Order"):
        return  # the CRM's copy of a Shopify order
    funnel = funnel_of_campaign(await ctx.live_funnels(shop_domain), order.get("campaign_id"))
    if funnel is None or not funnel.keep_orders_synced:
        return
    crm_id = str(order.get("id"))
    if await links.by_crm_id(shop_domain, SyncEntity.ORDER, crm_id) is not None:
        return  # already in Shopify; the CRM's later edits come as order.updated
    await _claim_or_hold(shop_domain, SyncDirection.TO_SHOPIFY, crm_id, f"crm:{crm_id}", utcnow())
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
                "toAssociate": {"id": await shopify_customer(ctx, shop_domain, customer)}
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


async def sync_order_update_to_shopify(ctx: SyncContext, event: InboxEventData) -> None:
    """A funnel order placed in the CRM and edited there since it reached Shopify: its Shopify
    order takes the CRM's note and delivery address, and a cancellation or payment it cannot
    take from us is shown on sync health for the merchant to set in Shopify."""
    shop_domain, order = event.shop_domain, crm_data(event)
    await _count_order(ctx, shop_domain, order)
    if not shop_domain or order.get("source") == "shopify" or from_shopify(order, "Order"):
        return  # the CRM's copy of a Shopify order: Shopify's order is the source
    funnel = funnel_of_campaign(await ctx.live_funnels(shop_domain), order.get("campaign_id"))
    if funnel is None or not funnel.keep_orders_synced:
        return
    crm_id = str(order.get("id"))
    link = await links.by_crm_id(shop_domain, SyncEntity.ORDER, crm_id)
    if link is None or link.shopify_id is None:
        return  # not in Shopify: order.created (handled first) makes it, or reported why not
    if link.unchanged(crm_order_content(order)):
        return  # Shopify's order was brought in line with this already: a repeat
    # The order as the CRM holds it now, not the event's copy: events come more than once
    # and out of order, and a stale copy would undo a later edit.
    crm = await ctx.clients.crm_for(shop_domain)
    order = await crm.get(f"/api/v1/orders/{crm_id}") or {}
    if not order or link.unchanged(crm_order_content(order)):
        return
    shopify = await ctx.clients.shopify_for(shop_domain)
    shopify_order = (await shopify.graphql(ORDER_QUERY, {"id": link.shopify_id})).data.get("order")
    if not shopify_order:
        return  # deleted in Shopify
    label = str(shopify_order.get("name") or "")
    changes = shopify_order_changes(order, shopify_order)
    if changes:
        try:
            await shopify.mutate(ORDER_UPDATE, {"input": {"id": link.shopify_id, **changes}}, "orderUpdate")
        except Rejected as refused:
            await activity.record_rejection(
                shop_domain,
                SyncEntity.ORDER,
                SyncDirection.TO_SHOPIFY,
                crm_id,
                refused,
                event.id,
                label=label,
            )
            return
    await links.save(
        shop_domain,
        SyncEntity.ORDER,
        shopify_id=link.shopify_id,
        crm_id=crm_id,
        canonical=crm_order_content(order),
    )
    held = status_not_applied(order, shopify_order)
    if changes or held:
        updated = " and ".join(CHANGE_LABELS[field] for field in changes)
        done = f"Its {updated} {'were' if len(changes) > 1 else 'was'} updated in Shopify." if changes else ""
        await activity.record(
            shop_domain,
            SyncEntity.ORDER,
            SyncDirection.TO_SHOPIFY,
            crm_id,
            SyncOutcome.HELD if held else SyncOutcome.SYNCED,
            " ".join(filter(None, [STATUS_NOT_APPLIED.get(held or ""), done])),
            label=label,
        )
    log.info("order_updated", shop=shop_domain, order=crm_id, changed=sorted(changes), held=held)
