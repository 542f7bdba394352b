"""Keep Products Synchronized, both ways, for the variants live funnels sell.

Shopify → CRM: a product created, updated or deleted in Shopify updates the funnel's CRM
products (a deleted product's CRM products are deactivated, never removed: campaigns
still refer to them). CRM → Shopify: a price, SKU, barcode or weight edited in the CRM is
written to the Shopify variant; a product deleted in the CRM is unlinked, and never deleted
in Shopify, the catalog's source. Each entity's link remembers the synced content, so
unchanged content and our own writes echoing back are not written again.

An event only says that a product changed: what is synced is the product as its side holds
it now, read back when the event is handled. Webhooks come more than once and out of order,
and our own writes echo back late; copying an event's (possibly stale) content would write
an older price over a newer one, and with several values in flight the two sides would
echo them back and forth for ever.
"""

from __future__ import annotations

import structlog

from connectors.crm import CrmUser
from connectors.errors import Rejected
from connectors.shopify_ids import gid_of, is_gid
from jobqueue.inbox import InboxEventData
from sync import activity, links
from sync.context import SyncContext
from sync.flows.shared import crm_data
from sync.gate import FunnelSync
from sync.mappers import (
    PRODUCT_BODY_FIELDS,
    crm_product_from_graphql,
    product_canonical,
    shopify_variant_input,
    variant_ids_of,
)
from sync.shopify_documents import VARIANTS_QUERY, VARIANTS_UPDATE
from sync.tables import SyncDirection, SyncEntity, SyncOutcome

log = structlog.get_logger("sync.flows.products")


def _synced_variants(funnels: list[FunnelSync]) -> dict[str, str]:
    """Variant ids sold by live funnels that keep products in sync → the funnel's currency."""
    return {
        variant: funnel.currency
        for funnel in funnels
        if funnel.keep_products_synced
        for variant in funnel.variant_ids
    }


async def sync_product_to_crm(ctx: SyncContext, event: InboxEventData) -> None:
    shop_domain = event.shop_domain
    if not shop_domain:
        return
    variants = _synced_variants(await ctx.live_funnels(shop_domain))
    # What is synced is read back from Shopify, so the payload only says which variants: a
    # funnel's variant past the 100th is named in `variant_gids` only.
    named = variant_ids_of(event.payload)
    touched = {variant: currency for variant, currency in variants.items() if variant in named}
    await _sync_variants_to_crm(ctx, shop_domain, touched, event.id)
    if touched:
        # Title, image and stock show on the live pages but may not change the CRM product;
        # pages are rebuilt after the CRM has the new prices they read.
        await ctx.products_changed(shop_domain, frozenset(touched))


async def sync_collection_change_to_crm(ctx: SyncContext, event: InboxEventData) -> None:
    """A collection created, edited or deleted: the funnels' products may have joined or left
    it, and Shopify's collection events do not say which products are in it, so every synced
    variant (a funnel sells a few) is read again; only those whose content changed are written."""
    if event.shop_domain:
        variants = _synced_variants(await ctx.live_funnels(event.shop_domain))
        await _sync_variants_to_crm(ctx, event.shop_domain, variants, event.id)


async def _sync_variants_to_crm(
    ctx: SyncContext, shop_domain: str, variants: dict[str, str], event_id: int
) -> None:
    """The CRM products of `variants` (id → the funnel's currency) as Shopify holds them now."""
    if not variants:
        return
    shopify = await ctx.clients.shopify_for(shop_domain)
    current = await shopify.graphql(VARIANTS_QUERY, {"ids": list(variants)})
    store_url = ctx.iam.shopify.shop_url(shop_domain, "")
    bodies = [  # as Shopify holds them now; a variant deleted since is the delete flow's
        crm_product_from_graphql(node["product"], node, variants[node["id"]], store_url)
        for node in current.data.get("nodes") or []
        if node and node.get("id") in variants
    ]
    if not bodies:
        return
    crm = await ctx.clients.crm_for(shop_domain)
    for body in bodies:
        canonical = product_canonical(body)
        link = await links.by_shopify_id(shop_domain, SyncEntity.PRODUCT, body["external_id"])
        if link is not None and link.unchanged(canonical):
            continue  # nothing changed for the CRM, or our own write coming back
        try:
            product = await crm.upsert_product(body)
        except Rejected as refused:
            await activity.record_rejection(
                shop_domain,
                SyncEntity.PRODUCT,
                SyncDirection.TO_CRM,
                body["external_id"],
                refused,
                event_id,
                label=body["name"],
            )
            continue
        await links.save(
            shop_domain,
            SyncEntity.PRODUCT,
            shopify_id=body["external_id"],
            crm_id=str(product["id"]),
            canonical=canonical,
        )
        await activity.record(
            shop_domain, SyncEntity.PRODUCT, SyncDirection.TO_CRM, body["external_id"], SyncOutcome.SYNCED
        )
        log.info(
            "product_synced", shop=shop_domain, variant=body["external_id"], direction=SyncDirection.TO_CRM
        )


PRODUCT_STILL_THERE = """
query SyncProductStillThere($id: ID!) {
  product(id: $id) { id }
}
"""


async def deactivate_deleted_product(ctx: SyncContext, event: InboxEventData) -> None:
    """A product deleted in Shopify: its funnel variants' CRM products stop being sold."""
    shop_domain = event.shop_domain
    if not shop_domain:
        return
    funnels = [f for f in await ctx.live_funnels(shop_domain) if f.keep_products_synced]
    if not funnels:
        return
    product_gid = gid_of("Product", event.payload)
    # The HMAC covers the body, not the topic header: a captured products/update re-sent as
    # products/delete passes the intake. Only what Shopify no longer holds was deleted.
    shopify = await ctx.clients.shopify_for(shop_domain)
    if (await shopify.graphql(PRODUCT_STILL_THERE, {"id": product_gid})).data.get("product"):
        log.warning(
            "product_delete_ignored", shop=shop_domain, product=product_gid, reason="still in Shopify"
        )
        return
    crm: CrmUser | None = None
    deactivated: list[str] = []
    for variant_id in sorted({v for f in funnels for v in f.variant_ids}):
        link = await links.by_shopify_id(shop_domain, SyncEntity.PRODUCT, variant_id)
        if link is None or link.crm_id is None:
            continue
        crm = crm or await ctx.clients.crm_for(shop_domain)
        product = await crm.get(f"/api/v1/products/{link.crm_id}")
        if product is None or product.get("product_external_id") != product_gid or not product.get("active"):
            continue
        body = {key: product.get(key) for key in PRODUCT_BODY_FIELDS} | {"active": False}
        await crm.upsert_product(body)
        deactivated.append(variant_id)
        await links.save(
            shop_domain,
            SyncEntity.PRODUCT,
            shopify_id=variant_id,
            crm_id=link.crm_id,
            canonical=product_canonical(body),
        )
        await activity.record(
            shop_domain,
            SyncEntity.PRODUCT,
            SyncDirection.TO_CRM,
            variant_id,
            SyncOutcome.SYNCED,
            "Deleted in Shopify: the CRM product was deactivated.",
        )
    if deactivated:
        # Live pages stop offering it: a deleted main product shows sold out, an upsell goes.
        await ctx.products_changed(shop_domain, frozenset(deactivated))


async def sync_product_to_shopify(ctx: SyncContext, event: InboxEventData) -> None:
    """A CRM product edit (price, SKU, barcode, weight) written to the Shopify variant it mirrors."""
    shop_domain = event.shop_domain
    product = event.payload.get("data") or {}
    variant_id = str(product.get("external_id") or "")
    if not shop_domain or not is_gid(variant_id, "ProductVariant"):
        return
    if variant_id not in _synced_variants(await ctx.live_funnels(shop_domain)):
        return
    crm = await ctx.clients.crm_for(shop_domain)
    product = await crm.get(f"/api/v1/products/{product.get('id')}") or {}
    if product.get("external_id") != variant_id:
        return  # deleted in the CRM since, or no longer this variant's product
    canonical = product_canonical(product)
    link = await links.by_shopify_id(shop_domain, SyncEntity.PRODUCT, variant_id)
    if link is not None and link.unchanged(canonical):
        return  # our own write to the CRM, echoing back
    variant = shopify_variant_input(product)
    shopify = await ctx.clients.shopify_for(shop_domain)
    try:
        await shopify.mutate(
            VARIANTS_UPDATE,
            {"productId": product.get("product_external_id"), "variants": [variant]},
            "productVariantsBulkUpdate",
        )
    except Rejected as refused:
        await activity.record_rejection(
            shop_domain,
            SyncEntity.PRODUCT,
            SyncDirection.TO_SHOPIFY,
            variant_id,
            refused,
            event.id,
            label=str(product.get("name") or ""),
        )
        return
    await links.save(
        shop_domain,
        SyncEntity.PRODUCT,
        shopify_id=variant_id,
        crm_id=str(product.get("id")),
        canonical=canonical,
    )
    await activity.record(
        shop_domain, SyncEntity.PRODUCT, SyncDirection.TO_SHOPIFY, variant_id, SyncOutcome.SYNCED
    )
    log.info("product_synced", shop=shop_domain, variant=variant_id, direction=SyncDirection.TO_SHOPIFY)


async def unlink_product_deleted_in_crm(ctx: SyncContext, event: InboxEventData) -> None:
    """A product deleted in the CRM: its link goes, the Shopify variant stays (Shopify is the
    catalog's source), and sync health tells the merchant what that means."""
    shop_domain, product = event.shop_domain, crm_data(event)
    crm_id = str(product.get("id") or "")
    if not shop_domain or not crm_id:
        return
    link = await links.by_crm_id(shop_domain, SyncEntity.PRODUCT, crm_id)
    if link is None:
        return  # never synced (made in the CRM), or unlinked already
    await links.forget(shop_domain, SyncEntity.PRODUCT, crm_id=crm_id)
    await activity.record(
        shop_domain,
        SyncEntity.PRODUCT,
        SyncDirection.TO_SHOPIFY,
        link.shopify_id or crm_id,
        SyncOutcome.HELD,
        "Deleted in the CRM. The product stays in Shopify (FunnelSync never deletes products "
        "there) and is no longer linked; the next catalog sync adds it to the CRM again. To stop "
        "selling it, archive or delete it in Shopify.",
        label=str(product.get("name") or ""),
    )
    log.info("product_unlinked", shop=shop_domain, crm_product=crm_id, variant=link.shopify_id)
