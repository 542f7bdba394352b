"""Customers both ways (Keep Orders Synchronized: customers travel with orders, so they follow
the same setting).

Shopify → CRM: a customer created, updated or deleted in Shopify is written to the CRM (a
customer with a pending order is not deleted). CRM → Shopify: the merchant's edits in the
CRM are written to Shopify. CRM events about customers that came from Shopify or that carry
the content both sides already hold are our own writes echoing back and stop here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog

from connectors.crm import CrmUser
from connectors.errors import Rejected
from connectors.shopify import ShopifyAdmin
from connectors.shopify_ids import gid_of
from jobqueue.inbox import InboxEventData
from sync import activity, links
from sync.context import SyncContext
from sync.customer_mapping import (
    GRAPHQL_CUSTOMER_FIELDS,
    Canonical,
    crm_customer_body,
    customer_from_crm,
    customer_from_graphql,
    customer_from_shopify,
    shopify_customer_input,
    shopify_time,
    unknown_fields,
    with_known,
)
from sync.flows.shared import crm_data, from_shopify
from sync.gate import keeping_orders
from sync.shopify_documents import CUSTOMER_UPDATE, CUSTOMERS_QUERY
from sync.tables import SyncDirection, SyncEntity, SyncOutcome

CUSTOMER_CREATE = """
mutation SyncCustomerCreate($input: CustomerInput!) {
  customerCreate(input: $input) { customer { id updatedAt } userErrors { field message } }
}
"""
CUSTOMER_DELETE = """
mutation SyncCustomerDelete($id: ID!) {
  customerDelete(input: {id: $id}) { deletedCustomerId userErrors { field message } }
}
"""
FIND_CUSTOMERS = f"""
query SyncFindCustomers($query: String!) {{
  customers(first: 5, query: $query) {{ nodes {{ {GRAPHQL_CUSTOMER_FIELDS} }} }}
}}
"""

log = structlog.get_logger("sync.flows.customers")


# Customers holding an email, each with its id and canonical form, as one side lists them.
WithEmail = Callable[[str], Awaitable[list[tuple[str, Canonical]]]]


async def _same_customer(
    shop_domain: str, written_to: SyncDirection, other_id: str, canonical: Canonical, with_email: WithEmail
) -> str | None:
    """After the side we write to refused to create the customer because its email is taken:
    the customer there that is this very one, if any (its id there). Either our own earlier
    create made it there and its answer was lost (a timeout, a worker killed mid-call), so it
    is unlinked and holds exactly this content; or another job of this customer running
    alongside (its order's) made and linked it to `other_id`, the customer's id on the side
    it comes from. A different customer with the same email stays refused (seeds/003)."""
    if not canonical["email"]:
        return None
    for candidate, content in await with_email(canonical["email"]):
        if written_to is SyncDirection.TO_CRM:
            link = await links.by_crm_id(shop_domain, SyncEntity.CUSTOMER, candidate)
            linked_to = link.shopify_id if link else None
        else:
            link = await links.by_shopify_id(shop_domain, SyncEntity.CUSTOMER, candidate)
            linked_to = link.crm_id if link else None
        if link is not None and linked_to == other_id:
            return candidate
        if link is None and content == canonical:
            return candidate
    return None


def _crm_customers_with(crm: CrmUser) -> WithEmail:
    async def with_email(email: str) -> list[tuple[str, Canonical]]:
        page = await crm.json("GET", "/api/v1/customers", params={"email": email})
        return [(str(row["id"]), customer_from_crm(row)) for row in page.get("data") or []]

    return with_email


def _shopify_customers_with(shopify: ShopifyAdmin) -> WithEmail:
    async def with_email(email: str) -> list[tuple[str, Canonical]]:
        found = await shopify.graphql(FIND_CUSTOMERS, {"query": f'email:"{email}"'})
        return [
            (str(node["id"]), customer_from_shopify(customer_from_graphql(node)))
            for node in (found.data.get("customers") or {}).get("nodes") or []
        ]

    return with_email


async def crm_customer(
    crm: CrmUser,
    shop_domain: str,
    customer_gid: str,
    canonical: Canonical,
    shopify_updated_at: datetime | None = None,
) -> tuple[str, bool]:
    """The CRM customer for a Shopify customer, created or updated to `canonical` (fields it
    does not know, None, stay as the CRM holds them); `shopify_updated_at` is Shopify's
    updatedAt of the customer `canonical` was read from, when it was read from Shopify.

    Returns its CRM id and whether anything was written.
    """
    link = await links.by_shopify_id(shop_domain, SyncEntity.CUSTOMER, customer_gid)
    if link is not None and link.crm_id and not unknown_fields(canonical) and link.unchanged(canonical):
        await _note_seen(shop_domain, customer_gid, link.crm_id, canonical, shopify_updated_at)
        return link.crm_id, False
    external_id = customer_gid
    if link is not None and link.crm_id:
        existing = await crm.get(f"/api/v1/customers/{link.crm_id}")
        canonical = with_known(canonical, customer_from_crm(existing) if existing else None)
        if link.unchanged(canonical):
            await _note_seen(shop_domain, customer_gid, link.crm_id, canonical, shopify_updated_at)
            return link.crm_id, False
        # A customer born in the CRM keeps the CRM's external id.
        external_id = str((existing or {}).get("external_id") or customer_gid)
    else:
        canonical = with_known(canonical, None)
    try:
        customer = await crm.upsert_customer(crm_customer_body(canonical, external_id))
    except Rejected:
        twin = None
        if link is None:
            twin = await _same_customer(
                shop_domain, SyncDirection.TO_CRM, customer_gid, canonical, _crm_customers_with(crm)
            )
        if twin is None:
            raise
        await links.save(
            shop_domain,
            SyncEntity.CUSTOMER,
            shopify_id=customer_gid,
            crm_id=twin,
            canonical=canonical,
            shopify_updated_at=shopify_updated_at,
        )
        return twin, False
    crm_id = str(customer["id"])
    await links.save(
        shop_domain,
        SyncEntity.CUSTOMER,
        shopify_id=customer_gid,
        crm_id=crm_id,
        canonical=canonical,
        shopify_updated_at=shopify_updated_at,
    )
    return crm_id, True


async def _note_seen(
    shop_domain: str,
    customer_gid: str,
    crm_id: str,
    canonical: Canonical,
    shopify_updated_at: datetime | None,
) -> None:
    """Nothing to write, but Shopify's customer as of `shopify_updated_at` is now known to be
    in the CRM: a later webhook no newer than it is answered without reading Shopify."""
    if shopify_updated_at is not None:
        await links.save(
            shop_domain,
            SyncEntity.CUSTOMER,
            shopify_id=customer_gid,
            crm_id=crm_id,
            canonical=canonical,
            shopify_updated_at=shopify_updated_at,
        )


async def sync_customer_to_crm(ctx: SyncContext, event: InboxEventData) -> None:
    shop_domain = event.shop_domain
    if not shop_domain or not keeping_orders(await ctx.live_funnels(shop_domain)):
        return
    customer_gid = gid_of("Customer", event.payload)
    link = await links.by_shopify_id(shop_domain, SyncEntity.CUSTOMER, customer_gid)
    if (
        link is not None
        and link.crm_id
        and (
            link.seen(shopify_time(event.payload.get("updated_at")))
            or link.unchanged(customer_from_shopify(event.payload))
        )
    ):
        # The event is about the customer as both sides hold it already: Shopify telling us
        # about our own write, a repeat, or a late copy. Nothing to read; a later edit comes
        # with an event of its own. Its `updated_at` says so even though the payload lacks
        # tags and consent (an edit of only those changes it too).
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
        _, written = await crm_customer(
            crm,
            shop_domain,
            customer_gid,
            customer_from_shopify(customer_from_graphql(node)),
            shopify_time(node.get("updatedAt")),
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
    customer_gid = gid_of("Customer", event.payload)
    link = await links.by_shopify_id(shop_domain, SyncEntity.CUSTOMER, customer_gid)
    if link is None or link.crm_id is None:
        return
    # The HMAC covers the body, not the topic header: a captured customers/update re-sent as
    # customers/delete passes the intake. Only a customer Shopify no longer holds was deleted.
    shopify = await ctx.clients.shopify_for(shop_domain)
    if any((await shopify.graphql(CUSTOMERS_QUERY, {"ids": [customer_gid]})).data.get("nodes") or []):
        log.warning(
            "customer_delete_ignored", shop=shop_domain, customer=customer_gid, reason="still in Shopify"
        )
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


async def shopify_customer(ctx: SyncContext, shop_domain: str, customer: dict[str, Any]) -> str:
    """The Shopify customer of a CRM customer (as the CRM holds it now), created or brought up
    to date and linked; returns its gid. Raises Rejected when Shopify refuses it."""
    crm_id = str(customer.get("id"))
    canonical = customer_from_crm(customer)
    link = await links.by_crm_id(shop_domain, SyncEntity.CUSTOMER, crm_id)
    shopify_id = link.shopify_id if link else from_shopify(customer, "Customer")
    if link is not None and shopify_id and link.unchanged(canonical):
        return shopify_id
    shopify = await ctx.clients.shopify_for(shop_domain)
    written_at = None  # Shopify's updatedAt after our write: its webhook is our echo
    if shopify_id:
        updated = await shopify.mutate(
            CUSTOMER_UPDATE, {"input": shopify_customer_input(canonical, shopify_id)}, "customerUpdate"
        )
        written_at = shopify_time((updated.get("customer") or {}).get("updatedAt"))
    else:
        try:
            created = await shopify.mutate(
                CUSTOMER_CREATE, {"input": shopify_customer_input(canonical)}, "customerCreate"
            )
            shopify_id = str(created["customer"]["id"])
            written_at = shopify_time(created["customer"].get("updatedAt"))
        except Rejected:
            shopify_id = await _same_customer(
                shop_domain, SyncDirection.TO_SHOPIFY, crm_id, canonical, _shopify_customers_with(shopify)
            )
            if shopify_id is None:
                raise
    await links.save(
        shop_domain,
        SyncEntity.CUSTOMER,
        shopify_id=shopify_id,
        crm_id=crm_id,
        canonical=canonical,
        shopify_updated_at=written_at,
    )
    await activity.record(
        shop_domain, SyncEntity.CUSTOMER, SyncDirection.TO_SHOPIFY, crm_id, SyncOutcome.SYNCED
    )
    return shopify_id


async def sync_customer_to_shopify(ctx: SyncContext, event: InboxEventData) -> None:
    shop_domain, customer = event.shop_domain, crm_data(event)
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
        await shopify_customer(ctx, shop_domain, customer)
    except Rejected as refused:
        label = str(customer.get("email") or "")
        await activity.record_rejection(
            shop_domain, SyncEntity.CUSTOMER, SyncDirection.TO_SHOPIFY, crm_id, refused, event.id, label=label
        )


async def delete_customer_in_shopify(ctx: SyncContext, event: InboxEventData) -> None:
    shop_domain, customer = event.shop_domain, crm_data(event)
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
