"""The store's catalog in the CRM: imported on install, refreshed on a schedule and on demand.

Up to 500 variants are read page by page right away (seeds/003). A bigger catalog is
read with a bulk operation: Shopify prepares a JSON Lines file, announced by the
`bulk_operations/finish` webhook (or found by polling), which is streamed line by line,
one product and its collections and variants at a time, so memory stays flat however big
the store. Variants whose content the CRM already holds are not written again.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import structlog

from connectors.crm import CrmUser
from connectors.errors import ExternalServiceError, Rejected
from connectors.shopify import ShopifyAdmin
from connectors.shopify_ids import is_gid
from iam.clients import ShopClients
from jobqueue.inbox import InboxEventData
from jobqueue.jobs import JobContext, RetryLater, enqueue, schedule_once
from jobqueue.tables import Job, JobStatus
from lib.clock import utcnow
from sync import activity, links
from sync.context import ProductsChanged
from sync.mappers import (
    GRAPHQL_PRODUCT_COLLECTIONS,
    GRAPHQL_PRODUCT_FIELDS,
    GRAPHQL_VARIANT_FIELDS,
    MAX_COLLECTIONS,
    content_hash,
    crm_product_from_graphql,
    product_canonical,
)
from sync.tables import SyncDirection, SyncEntity, SyncOutcome
from sync.topics import JOB_IMPORT_CATALOG

log = structlog.get_logger("sync.catalog_import")
JOB_IMPORT_CATALOG_BULK = "catalog.import_bulk"
SYNCHRONOUS_VARIANT_LIMIT = 500
BULK_POLL_SECONDS = 3.0
DEFAULT_REFRESH = timedelta(hours=4)

# Two products a page, each with up to 60 variants and 25 collections, requests 785 of the
# 1,000 points a query may cost (a variant's weight alone is three objects: inventory item,
# measurement, weight). A product with more variants than a page holds goes to bulk.
CATALOG_PAGE = f"""
query CatalogPage($after: String) {{
  shop {{ currencyCode }}
  products(first: 2, after: $after) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      {GRAPHQL_PRODUCT_FIELDS} {GRAPHQL_PRODUCT_COLLECTIONS}
      variants(first: 60) {{ pageInfo {{ hasNextPage }} nodes {{ {GRAPHQL_VARIANT_FIELDS} }} }}
    }}
  }}
}}
"""
# A bulk query ignores `first`: each variant and collection is a line of its own after its
# product's line, told apart by the type in its id, in no order the import relies on.
BULK_QUERY = (
    f"{{ products {{ edges {{ node {{ {GRAPHQL_PRODUCT_FIELDS} "
    f"variants {{ edges {{ node {{ {GRAPHQL_VARIANT_FIELDS} }} }} }} "
    "collections { edges { node { id title } } } } } } }"
)
# Grouped: each product's lines come together, so the file streams one product at a time
# (since 2026-01 Shopify groups them only when asked).
BULK_RUN = """
mutation CatalogBulk($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) {
    bulkOperation { id status }
    userErrors { field message }
  }
}
"""
BULK_STATUS = """
query CatalogBulkStatus($id: ID!) {
  shop { currencyCode }
  node(id: $id) { ... on BulkOperation { id status errorCode objectCount url } }
}
"""


CRM_BATCH = 100


@dataclass
class CatalogWriter:
    """Sends changed variants to the CRM a hundred at a time; unchanged ones are not sent."""

    clients: ShopClients
    shop_domain: str
    crm: CrmUser | None = None  # bound at the first batch to send
    variants: int = 0
    written: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    # Variants synced before whose content changed (a price, a title): live pages may show them.
    changed: set[str] = field(default_factory=set)

    async def add(self, body: dict[str, Any]) -> None:
        self.variants += 1
        self.pending.append(body)
        if len(self.pending) >= CRM_BATCH:
            await self.flush()

    async def flush(self) -> None:
        candidates, self.pending = self.pending, []
        synced = await links.hashes_by_shopify_id(
            self.shop_domain, SyncEntity.PRODUCT, [body["external_id"] for body in candidates]
        )
        batch = [
            body
            for body in candidates
            if synced.get(body["external_id"]) != content_hash(product_canonical(body))
        ]
        if not batch:
            return
        self.crm = self.crm or await self.clients.crm_for(self.shop_domain)
        written, refused = await self.crm.upsert_products(batch)
        first_links = []
        for body in batch:
            crm_id = written.get(body["external_id"])
            if crm_id is None:
                continue
            if body["external_id"] in synced:
                self.changed.add(body["external_id"])
                await links.save(
                    self.shop_domain,
                    SyncEntity.PRODUCT,
                    shopify_id=body["external_id"],
                    crm_id=crm_id,
                    canonical=product_canonical(body),
                )
            else:
                first_links.append((body["external_id"], crm_id, product_canonical(body)))
        await links.save_new(self.shop_domain, SyncEntity.PRODUCT, first_links)
        self.written += len(written)
        self.rejected += len(refused)
        for external_id, error in refused.items():
            if len(self.reasons) < 5:
                name = next(b["name"] for b in batch if b["external_id"] == external_id)
                self.reasons.append(f"{name}: {activity.plain_reason(SyncEntity.PRODUCT, error)}")


async def _finish(
    writer: CatalogWriter, how: str, refresh: timedelta, products_changed: ProductsChanged | None
) -> None:
    await writer.flush()
    shop_domain = writer.shop_domain
    if products_changed is not None and writer.changed:
        # As after a product webhook: the live pages selling them are rebuilt.
        await products_changed(shop_domain, frozenset(writer.changed))
    summary = f"Catalog {how}: {writer.variants} variants read, {writer.written} written to the CRM."
    if writer.rejected:
        reasons = " ".join(writer.reasons)
        summary += f" {writer.rejected} refused by the CRM. {reasons}"
    outcome = SyncOutcome.REJECTED if writer.rejected else SyncOutcome.SYNCED
    await activity.record(shop_domain, SyncEntity.PRODUCT, SyncDirection.TO_CRM, "catalog", outcome, summary)
    await schedule_catalog_import(shop_domain, delay=refresh)
    log.info("catalog_imported", shop=shop_domain, how=how, variants=writer.variants, written=writer.written)


async def import_catalog(
    clients: ShopClients,
    job: JobContext,
    *,
    refresh: timedelta = DEFAULT_REFRESH,
    products_changed: ProductsChanged | None = None,
) -> None:
    """Reads the catalog page by page (two products a page keeps each query under Shopify's
    1,000-point limit); past 500 variants hands over to a bulk operation."""
    shop_domain = str(job.shop_domain)
    shopify = await clients.shopify_for(shop_domain)
    store_url = shopify.shop_url("")
    writer, after = CatalogWriter(clients, shop_domain), None
    while True:
        data = (await shopify.graphql(CATALOG_PAGE, {"after": after})).data
        currency = str(data["shop"]["currencyCode"])
        page = data["products"]
        if any(product["variants"]["pageInfo"]["hasNextPage"] for product in page["nodes"]):
            await _start_bulk(shopify)  # a product with more variants than a page holds
            return
        for product in page["nodes"]:
            for variant in product["variants"]["nodes"]:
                await writer.add(crm_product_from_graphql(product, variant, currency, store_url))
        if not page["pageInfo"]["hasNextPage"]:
            await _finish(writer, "imported", refresh, products_changed)
            return
        if writer.variants >= SYNCHRONOUS_VARIANT_LIMIT:
            await writer.flush()
            await _start_bulk(shopify)
            return
        after = page["pageInfo"]["endCursor"]


async def _start_bulk(shopify: ShopifyAdmin) -> None:
    shop_domain = shopify.shop
    try:
        started = await shopify.mutate(BULK_RUN, {"query": BULK_QUERY}, "bulkOperationRunQuery")
    except Rejected as refused:
        if "in progress" in str(refused):  # another bulk query of this app is running: try again soon
            raise RetryLater(30.0, str(refused)) from refused
        raise
    operation_id = str(started["bulkOperation"]["id"])
    await enqueue(
        JOB_IMPORT_CATALOG_BULK,
        {"operation_id": operation_id},
        shop_domain=shop_domain,
        ordering_key=f"catalog:{shop_domain}",
        run_at=utcnow() + timedelta(seconds=BULK_POLL_SECONDS),
        max_attempts=5,
    )
    log.info("catalog_bulk_started", shop=shop_domain, operation=operation_id)


async def jsonl_records(http: httpx.AsyncClient, url: str) -> AsyncIterator[dict[str, Any]]:
    """The bulk result's records, one line at a time: never the whole file in memory."""
    try:
        async with http.stream("GET", url) as response:
            if response.status_code != 200:
                raise ExternalServiceError("Shopify", f"bulk result answered {response.status_code}")
            async for line in response.aiter_lines():
                if line.strip():
                    yield json.loads(line)
    except httpx.TransportError as exc:
        raise ExternalServiceError("Shopify", f"bulk result unreachable ({type(exc).__name__})") from None


@dataclass
class BulkProduct:
    """One product of the bulk file and its child lines, held until the next product's line:
    a variant is only mapped once its product's collections (which may follow it) are known."""

    line: dict[str, Any]
    collections: list[str] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)

    def add(self, record: dict[str, Any]) -> None:
        child_id = str(record.get("id") or "")
        if is_gid(child_id, "Collection"):
            if len(self.collections) < MAX_COLLECTIONS:
                self.collections.append(str(record.get("title") or ""))
        elif is_gid(child_id, "ProductVariant"):
            self.variants.append(record)

    async def write(self, writer: CatalogWriter, currency: str, store_url: str) -> None:
        product = self.line | {"collections": {"nodes": [{"title": t} for t in self.collections]}}
        for variant in self.variants:
            await writer.add(crm_product_from_graphql(product, variant, currency, store_url))


async def write_bulk_records(
    records: AsyncIterator[dict[str, Any]], writer: CatalogWriter, currency: str, store_url: str
) -> None:
    """The grouped bulk file's products to the CRM, holding one product's lines at a time."""
    product = BulkProduct({})
    async for record in records:
        parent = record.get("__parentId")
        if parent is None:  # the previous product's lines are all read: its variants can go
            await product.write(writer, currency, store_url)
            product = BulkProduct(record)
        elif parent == product.line.get("id"):
            product.add(record)
    await product.write(writer, currency, store_url)


async def import_catalog_bulk(
    clients: ShopClients,
    job: JobContext,
    *,
    refresh: timedelta = DEFAULT_REFRESH,
    products_changed: ProductsChanged | None = None,
) -> None:
    """Waits for the bulk operation, then streams its JSONL into the CRM."""
    shop_domain = str(job.shop_domain)
    shopify = await clients.shopify_for(shop_domain)
    data = (await shopify.graphql(BULK_STATUS, {"id": job.payload["operation_id"]})).data
    operation = data.get("node") or {}
    status = operation.get("status")
    if status in {"CREATED", "RUNNING"}:
        raise RetryLater(BULK_POLL_SECONDS, f"bulk operation {status.lower()}")
    if status != "COMPLETED":
        await activity.record(
            shop_domain,
            SyncEntity.PRODUCT,
            SyncDirection.TO_CRM,
            "catalog",
            SyncOutcome.REJECTED,
            f"Shopify could not prepare the catalog ({operation.get('errorCode') or status}). "
            "Use “Sync catalog now” to try again.",
        )
        return
    writer = CatalogWriter(clients, shop_domain)
    if operation.get("url"):  # an empty catalog has no file
        currency = str(data["shop"]["currencyCode"])
        store_url = shopify.shop_url("")
        records = jsonl_records(shopify.client.http, str(operation["url"]))
        await write_bulk_records(records, writer, currency, store_url)
    await _finish(writer, "imported in bulk", refresh, products_changed)


async def schedule_catalog_import(shop_domain: str, *, delay: timedelta = timedelta(0)) -> None:
    await schedule_once(JOB_IMPORT_CATALOG, shop_domain, delay=delay)


async def bulk_operation_finished(event: InboxEventData) -> None:
    """`bulk_operations/finish`: the waiting import job runs now instead of at its next poll."""
    if event.shop_domain:
        await Job.update({Job.run_at: utcnow()}).where(
            (Job.kind == JOB_IMPORT_CATALOG_BULK)
            & (Job.shop_domain == event.shop_domain)
            & (Job.status == JobStatus.QUEUED)
        )
