"""Keep Products Synchronized, Shopify → CRM: a product change updates the funnel's CRM products.

Only live funnels with the setting on, and only the variants they sell, are written.
Each write is skipped when its content equals what was last written (echo suppression).
"""

from __future__ import annotations

import structlog

from funnels.tables import Funnel, Upsell
from iam.context import IamContext
from iam.provisioning import account_user_token
from sync.inbox import InboxEventData
from sync.jobs import utcnow
from sync.mappers import content_hash, crm_products_from_shopify
from sync.tables import SyncState

log = structlog.get_logger("funnels.product_sync")
DIRECTION = "shopify-to-crm"


async def _synced_variants(shop_domain: str, product_gid: str) -> dict[str, str]:
    """Variant ids of this product sold by live funnels that keep products in sync → currency."""
    funnels = await Funnel.select(
        Funnel.id, Funnel.currency, Funnel.main_product_id, Funnel.main_variant_id
    ).where(
        (Funnel.shop_domain == shop_domain) & (Funnel.status == "live") & Funnel.keep_products_synced.eq(True)
    )
    if not funnels:
        return {}
    currencies = {row["id"]: row["currency"] for row in funnels}
    variants = {
        row["main_variant_id"]: row["currency"] for row in funnels if row["main_product_id"] == product_gid
    }
    upsells = await Upsell.select(Upsell.variant_id, Upsell.funnel).where(
        (Upsell.funnel.is_in(list(currencies))) & (Upsell.product_id == product_gid)
    )
    variants.update({row["variant_id"]: currencies[row["funnel"]] for row in upsells})
    return variants


async def sync_product_to_crm(iam: IamContext, event: InboxEventData) -> None:
    shop_domain = event.shop_domain
    product_gid = str(
        event.payload.get("admin_graphql_api_id") or f"gid://shopify/Product/{event.payload.get('id')}"
    )
    if not shop_domain:
        return
    variants = await _synced_variants(shop_domain, product_gid)
    if not variants:
        return
    token = await account_user_token(iam, shop_domain, "crm")
    store_url = iam.shopify.shop_url(shop_domain, "")
    currency = next(iter(variants.values()))
    for body in crm_products_from_shopify(event.payload, currency, store_url, set(variants)):
        key = f"{DIRECTION}:{shop_domain}:{body['external_id']}"
        digest = content_hash(body)
        state = await SyncState.select(SyncState.content_hash).where(SyncState.key == key).first()
        if state is not None and state["content_hash"] == digest:
            continue  # nothing changed for the CRM, or our own write coming back
        product = await iam.crm.upsert_product(token, body)
        await SyncState.insert(
            SyncState(key=key, content_hash=digest, remote_id=str(product["id"]), synced_at=utcnow())
        ).on_conflict(
            target=SyncState.key,
            action="DO UPDATE",
            values=[SyncState.content_hash, SyncState.remote_id, SyncState.synced_at],
        )
        log.info("product_synced", shop=shop_domain, variant=body["external_id"])
