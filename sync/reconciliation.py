"""Reconciliation: both sides compared for every linked product and customer, drift repaired.

A webhook can be lost for good (Shopify gives up after its retries; a subscription can
be removed). Each run reads both sides of every link, compares their content hashes with
the last synced one and repairs what drifted:
- one side changed since the last sync: the change is copied to the other side;
- both changed: for products Shopify's version wins (it is the catalog's source), for
  customers the CRM's (merchants correct customer data there).
What was repaired is kept with the run, for the sync health page. Variants whose content
changed on either side (or whose last sync was not recorded) are handed to
`products_changed` at the end, as the product webhooks' are: a live page selling one of them
is rebuilt (it shows the CRM's prices, which may just have changed).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog

from connectors.crm import CrmUser
from connectors.errors import ExternalServiceError
from connectors.shopify import ShopifyAdmin
from iam.clients import ShopClients
from jobqueue.jobs import JobContext, schedule_once
from lib.clock import utcnow
from sync import links
from sync.context import ProductsChanged
from sync.customer_mapping import (
    crm_customer_body,
    customer_from_crm,
    customer_from_graphql,
    customer_from_shopify,
    shopify_customer_input,
)
from sync.mappers import content_hash, crm_product_from_graphql, product_canonical, shopify_variant_input
from sync.shopify_documents import CUSTOMER_UPDATE, CUSTOMERS_QUERY, VARIANTS_QUERY, VARIANTS_UPDATE
from sync.tables import Reconciliation, SyncEntity, SyncLink
from sync.topics import JOB_RECONCILE

log = structlog.get_logger("sync.reconciliation")
DEFAULT_INTERVAL = timedelta(hours=6)
BATCH = 50


class Run:
    def __init__(self, shop_domain: str, shopify: ShopifyAdmin, crm: CrmUser) -> None:
        self.shop_domain = shop_domain
        self.shopify = shopify
        self.crm = crm
        self.checked = 0
        self.repairs: list[dict[str, str]] = []
        self.changed_variants: set[str] = set()  # Shopify variant ids whose content moved

    def repaired(
        self, entity_type: str, entity_ref: str, what: str, *, shopify_id: str = "", crm_id: str = ""
    ) -> None:
        """`entity_ref` is how the merchant knows it (a name); the link's ids, when given, are
        what a customer's redaction finds the repair by (sync.privacy)."""
        repair = {"entity_type": entity_type, "entity_ref": entity_ref, "what": what}
        repair |= {key: value for key, value in (("shopify_id", shopify_id), ("crm_id", crm_id)) if value}
        self.repairs.append(repair)

    async def crm_records(self, collection: str) -> dict[str, dict[str, Any]]:
        """Every record of a CRM collection by id, read a hundred at a time (few calls, within limits)."""
        records: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            page = await self.crm.json("GET", collection, params=params)
            records.update({str(row["id"]): row for row in page["data"]})
            cursor = page.get("next_cursor")
            if not cursor:
                return records


async def _linked(shop_domain: str, entity_type: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await SyncLink.select(
        SyncLink.shopify_id, SyncLink.crm_id, SyncLink.content_hash
    ).where(
        (SyncLink.shop_domain == shop_domain)
        & (SyncLink.entity_type == entity_type)
        & SyncLink.shopify_id.is_not_null()
        & SyncLink.crm_id.is_not_null()
    )
    return rows


async def _reconcile_products(run: Run) -> None:
    rows = await _linked(run.shop_domain, SyncEntity.PRODUCT)
    if not rows:
        return
    crm_products = await run.crm_records("/api/v1/products")
    store_url = run.shopify.shop_url("")
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        ids = [row["shopify_id"] for row in batch]
        data = (await run.shopify.graphql(VARIANTS_QUERY, {"ids": ids})).data
        currency = str(data["shop"]["currencyCode"])
        variants = {node["id"]: node for node in data["nodes"] if node}
        for row in batch:
            run.checked += 1
            variant = variants.get(row["shopify_id"])
            crm_product = crm_products.get(row["crm_id"])
            if variant is None or crm_product is None:
                continue  # deleted on one side: the delete flows handle it
            shopify_body = crm_product_from_graphql(variant["product"], variant, currency, store_url)
            shopify_body["currency"] = crm_product.get("currency") or currency
            from_shopify, from_crm = product_canonical(shopify_body), product_canonical(crm_product)
            if (
                content_hash(from_shopify) != row["content_hash"]
                or content_hash(from_crm) != row["content_hash"]
            ):
                run.changed_variants.add(row["shopify_id"])
            if content_hash(from_shopify) == content_hash(from_crm):
                if row["content_hash"] != content_hash(from_shopify):
                    await links.save(
                        run.shop_domain,
                        SyncEntity.PRODUCT,
                        shopify_id=row["shopify_id"],
                        crm_id=row["crm_id"],
                        canonical=from_shopify,
                    )
                continue
            if content_hash(from_shopify) == row["content_hash"]:  # only the CRM changed
                variant_input = shopify_variant_input(crm_product | {"external_id": row["shopify_id"]})
                await run.shopify.mutate(
                    VARIANTS_UPDATE,
                    {"productId": variant["product"]["id"], "variants": [variant_input]},
                    "productVariantsBulkUpdate",
                )
                run.repaired(
                    SyncEntity.PRODUCT, shopify_body["name"], "Shopify variant updated from the CRM's edit"
                )
                synced = from_crm
            else:
                await run.crm.upsert_product(shopify_body)
                run.repaired(SyncEntity.PRODUCT, shopify_body["name"], "CRM product updated from Shopify")
                synced = from_shopify
            await links.save(
                run.shop_domain,
                SyncEntity.PRODUCT,
                shopify_id=row["shopify_id"],
                crm_id=row["crm_id"],
                canonical=synced,
            )


async def _reconcile_customers(run: Run) -> None:
    rows = await _linked(run.shop_domain, SyncEntity.CUSTOMER)
    if not rows:
        return
    crm_customers = await run.crm_records("/api/v1/customers")
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        ids = [row["shopify_id"] for row in batch]
        data = (await run.shopify.graphql(CUSTOMERS_QUERY, {"ids": ids})).data
        customers = {node["id"]: node for node in data["nodes"] if node}
        for row in batch:
            run.checked += 1
            node = customers.get(row["shopify_id"])
            crm_customer = crm_customers.get(row["crm_id"])
            if node is None or crm_customer is None:
                continue
            from_crm = customer_from_crm(crm_customer)
            from_shopify = customer_from_shopify(customer_from_graphql(node))
            if content_hash(from_shopify) == content_hash(from_crm):
                continue
            name = " ".join(filter(None, [from_crm["first_name"], from_crm["last_name"]])) or row["crm_id"]
            if content_hash(from_crm) == row["content_hash"]:  # only Shopify changed
                external_id = str(crm_customer.get("external_id") or row["shopify_id"])
                await run.crm.upsert_customer(crm_customer_body(from_shopify, external_id))
                run.repaired(
                    SyncEntity.CUSTOMER,
                    name,
                    "CRM customer updated from Shopify",
                    shopify_id=row["shopify_id"],
                    crm_id=row["crm_id"],
                )
                synced = from_shopify
            else:
                await run.shopify.mutate(
                    CUSTOMER_UPDATE,
                    {"input": shopify_customer_input(from_crm, row["shopify_id"])},
                    "customerUpdate",
                )
                run.repaired(
                    SyncEntity.CUSTOMER,
                    name,
                    "Shopify customer updated from the CRM",
                    shopify_id=row["shopify_id"],
                    crm_id=row["crm_id"],
                )
                synced = from_crm
            await links.save(
                run.shop_domain,
                SyncEntity.CUSTOMER,
                shopify_id=row["shopify_id"],
                crm_id=row["crm_id"],
                canonical=synced,
            )


async def reconcile(
    clients: ShopClients,
    job: JobContext,
    *,
    interval: timedelta = DEFAULT_INTERVAL,
    products_changed: ProductsChanged | None = None,
) -> None:
    shop_domain = str(job.shop_domain)
    rows = await Reconciliation.insert(
        Reconciliation(shop_domain=shop_domain, started_at=utcnow())
    ).returning(Reconciliation.id)
    run_id = rows[0]["id"]
    run = Run(shop_domain, await clients.shopify_for(shop_domain), await clients.crm_for(shop_domain))
    error = None
    try:
        await _reconcile_products(run)
        await _reconcile_customers(run)
    except ExternalServiceError as exc:
        error = f"{exc} — the next run picks up from here."
    if products_changed is not None and run.changed_variants:
        await products_changed(shop_domain, frozenset(run.changed_variants))
    await Reconciliation.update(
        {
            Reconciliation.finished_at: utcnow(),
            Reconciliation.checked: run.checked,
            Reconciliation.repairs: run.repairs,
            Reconciliation.error: error,
        }
    ).where(Reconciliation.id == run_id)
    log.info("reconciled", shop=shop_domain, checked=run.checked, repaired=len(run.repairs), error=error)
    await schedule_reconciliation(shop_domain, delay=interval)


async def schedule_reconciliation(shop_domain: str, *, delay: timedelta = timedelta(0)) -> None:
    await schedule_once(JOB_RECONCILE, shop_domain, delay=delay)
