"""Publishing a funnel: a saga of idempotent steps run by the worker.

Every step writes through an upsert keyed by a stable external id, so running a step
again (after a crash, a retry or an edit) updates what it made instead of making it
twice. Each step's state is a PublishStep row; a failed step stops the saga with a
reason the merchant can act on, and a retry resumes at the first step not done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from connectors.crm import CrmUser, PaymentProcessor
from connectors.errors import ExternalServiceError, RateLimited, Rejected
from connectors.shopify import ShopifyAdmin
from connectors.templates import PageBeacon, TemplatesUser
from funnels.livepage import PageBeaconFor, downsell_external_id, offered_variant_ids, page_content
from funnels.services import FunnelDraft, load_draft, over_plan_limits
from funnels.tables import Funnel, FunnelStatus, HostKind, PublishStep, PublishStepStatus
from funnels.validation import Errors, currency_refusal
from iam.clients import ShopClients
from jobqueue.jobs import JobContext, PermanentJobError, RetryLater, enqueue
from lib.clock import utcnow
from lib.db import write_transaction
from sync import links
from sync.mappers import crm_product_from_graphql, product_canonical
from sync.shopify_documents import VARIANTS_QUERY
from sync.tables import SyncEntity

log = structlog.get_logger("funnels.publish")

JOB_PUBLISH_FUNNEL = "funnels.publish"
PUBLISH_MAX_ATTEMPTS = 4
SPLIT_OFFER_PREFIX = "split:"
LIVE_MARKER = '<meta name="funnel-site" content="{site_id}">'


class PublishBlocked(Exception):
    """The funnel cannot be published yet; the message says what to do first."""


@dataclass
class SagaContext:
    shop_domain: str
    draft: FunnelDraft
    shopify: ShopifyAdmin
    crm: CrmUser
    templates: TemplatesUser
    results: dict[str, dict[str, Any]]
    beacon: PageBeacon | None = None  # what the live page reports its traffic with

    @property
    def funnel_id(self) -> int:
        return self.draft.id


Step = Callable[[SagaContext], Awaitable[dict[str, Any]]]


async def map_products(saga: SagaContext) -> dict[str, Any]:
    """Main and upsell variants become CRM products, from Shopify's current data.

    Mapped as product sync maps them, every field of seeds/003, and linked: the sync that
    follows finds the CRM already holding this content and does not write it again.
    """
    variant_ids = offered_variant_ids(saga.draft)
    current = await saga.shopify.graphql(VARIANTS_QUERY, {"ids": variant_ids})
    nodes = {node["id"]: node for node in current.data.get("nodes") or [] if node}
    store_currency = str((current.data.get("shop") or {}).get("currencyCode") or "")
    refusal = currency_refusal(saga.draft.funnel["currency"], store_currency)
    if refusal is not None:
        raise Rejected("Shopify", f"{refusal} (change it on the campaign step)")
    store_url = saga.shopify.shop_url("")
    mapped: dict[str, str] = {}
    for variant_id in variant_ids:
        node = nodes.get(variant_id)
        if node is None:
            raise Rejected("Shopify", f"a product of this funnel is no longer in your store ({variant_id})")
        body = crm_product_from_graphql(node["product"], node, saga.draft.funnel["currency"], store_url)
        product = await saga.crm.upsert_product(body)
        await links.save(
            saga.shop_domain,
            SyncEntity.PRODUCT,
            shopify_id=variant_id,
            crm_id=str(product["id"]),
            canonical=product_canonical(body),
        )
        mapped[variant_id] = str(product["id"])
    return {"products": mapped}


async def create_campaign(saga: SagaContext) -> dict[str, Any]:
    funnel = saga.draft.funnel
    campaign = await saga.crm.upsert_campaign(
        {
            "external_id": f"funnel:{saga.funnel_id}",
            "name": funnel["name"],
            "description": funnel["description"],
            "currency": funnel["currency"],
            "country": funnel["country"],
        },
    )
    return {"campaign_id": str(campaign["id"])}


async def create_offers(saga: SagaContext) -> dict[str, Any]:
    campaign_id = saga.results["campaign"]["campaign_id"]
    products = saga.results["products"]["products"]
    funnel = saga.draft.funnel
    wanted = [
        {
            "external_id": f"funnel:{saga.funnel_id}:main",
            "product_id": products[funnel["main_variant_id"]],
            "kind": "main",
            "position": 0,
            "headline": funnel["name"],
            "discount_type": "none",
            "discount_value": "0",
        },
        *(
            {
                "external_id": f"upsell:{row['id']}",
                "product_id": products[row["variant_id"]],
                "kind": "upsell",
                "position": index + 1,
                "headline": row["headline"],
                "discount_type": row["discount_type"],
                "discount_value": row["discount_value"],
            }
            for index, row in enumerate(saga.draft.upsells)
        ),
    ]
    if (downsell := saga.draft.downsell) is not None:
        # An offer of its own, so the CRM charges its price and reports its orders apart.
        wanted.append(
            {
                "external_id": downsell_external_id(saga.funnel_id),
                "product_id": products[downsell["variant_id"]],
                "kind": "downsell",
                "position": len(saga.draft.upsells) + 1,
                "headline": downsell["headline"],
                "discount_type": downsell["discount_type"],
                "discount_value": downsell["discount_value"],
            }
        )
    offers = {
        offer["external_id"]: str((await saga.crm.upsert_offer(campaign_id, offer))["id"]) for offer in wanted
    }
    # Upsells removed since the last publish leave the campaign too; a running split test's
    # own offers (external id "split:…") stay until the test ends.
    for existing in await saga.crm.campaign_offers(campaign_id):
        external_id = str(existing.get("external_id") or "")
        if external_id not in offers and not external_id.startswith(SPLIT_OFFER_PREFIX):
            await saga.crm.delete_offer(campaign_id, str(existing["id"]))
    return {"offers": offers}


async def create_site(saga: SagaContext) -> dict[str, Any]:
    funnel = saga.draft.funnel
    host = (
        {"kind": "subdomain", "subdomain": funnel["subdomain"]}
        if funnel["host_kind"] == HostKind.SUBDOMAIN
        else {"kind": "custom_domain", "domain": funnel["custom_domain"]}
    )
    # Built after the offers exist: the page shows the prices the CRM charges for them.
    content = await page_content(
        saga.draft, saga.results["campaign"]["campaign_id"], saga.shopify, saga.crm, saga.beacon
    )
    site = await saga.templates.upsert_site(
        {
            "external_id": f"funnel:{saga.funnel_id}",
            "template_id": funnel["template_id"],
            "host": host,
            "content": content.as_json(),
        },
    )
    return {
        "site_id": str(site["id"]),
        "url": str(site["url"]),
        "view_url": str(site.get("view_url") or site["url"]),
    }


async def link_payment_processors(saga: SagaContext) -> dict[str, Any]:
    processors = [p for p in await saga.crm.payment_processors() if p.active]
    if not processors:
        raise Rejected("CRM", "no active payment processor: add one in the CRM, then retry")
    ids = [processor.id for processor in processors]
    await saga.crm.link_payment_processors(saga.results["campaign"]["campaign_id"], ids)
    return {"processor_ids": ids}


async def publish_site(saga: SagaContext) -> dict[str, Any]:
    published = await saga.templates.publish_site(saga.results["site"]["site_id"])
    return {
        "url": str(published["url"]),
        "view_url": str(published.get("view_url") or published["url"]),
        "version": published.get("version"),
    }


async def verify_live(saga: SagaContext) -> dict[str, Any]:
    # A custom domain may not point at the host yet; the service's own view address
    # serves the same page, so the check does not wait for DNS.
    status, page = await saga.templates.client.fetch_page(saga.results["publish"]["view_url"])
    marker = LIVE_MARKER.format(site_id=saga.results["site"]["site_id"])
    if status != 200 or marker not in page:
        raise ExternalServiceError("Page builder", f"the live page answered {status} without this funnel")
    return {"url": saga.results["publish"]["url"]}


STEPS: tuple[tuple[str, str, Step], ...] = (
    ("products", "Map products to the CRM", map_products),
    ("campaign", "Create the CRM campaign", create_campaign),
    ("offers", "Create the offers", create_offers),
    ("site", "Create the page from the template", create_site),
    ("payment_processors", "Link payment processors", link_payment_processors),
    ("publish", "Publish the page", publish_site),
    ("verify", "Check the live page", verify_live),
)
STEP_TITLES = {name: title for name, title, _ in STEPS}


async def _enqueue_saga(shop_domain: str, funnel_id: int) -> None:
    # One saga at a time per funnel: a second request waits behind the first.
    await enqueue(
        JOB_PUBLISH_FUNNEL,
        {"funnel_id": funnel_id},
        shop_domain=shop_domain,
        ordering_key=f"publish:{funnel_id}",
        max_attempts=PUBLISH_MAX_ATTEMPTS,
    )


async def start_publish(shop_domain: str, funnel_id: int) -> None:
    """Queues the saga; steps already done stay done unless the funnel was edited since."""
    draft = await load_draft(shop_domain, funnel_id)
    if draft.funnel["status"] == FunnelStatus.PUBLISHING:
        return  # already under way: a second click must not restart it
    missing = [
        slug for slug in ("campaign", "product", "upsells", "template", "hosting") if slug not in draft.done
    ]
    if missing:
        raise PublishBlocked("Finish every step before publishing: " + ", ".join(missing))
    async with write_transaction():
        for position, (name, _, _) in enumerate(STEPS):
            await PublishStep.insert(PublishStep(funnel=funnel_id, name=name, position=position)).on_conflict(
                target=(PublishStep.funnel, PublishStep.name),
                action="DO UPDATE",
                values=[
                    (PublishStep.status, PublishStepStatus.PENDING),
                    (PublishStep.error, None),
                    (PublishStep.attempts, 0),
                ],
            )
        await Funnel.update({Funnel.status: FunnelStatus.PUBLISHING, Funnel.updated_at: utcnow()}).where(
            Funnel.id == funnel_id
        )
        await _enqueue_saga(shop_domain, funnel_id)


async def request_publish(
    shop_domain: str,
    draft: FunnelDraft,
    processors: list[PaymentProcessor],
    processor_problem: str | None,
    currency_problem: str | None = None,
) -> Errors | None:
    """Starts publishing unless something stands in the way: what does, by field, for the review page.

    A campaign currency other than the store's comes first (`currency_problem`), then the
    plan's limits, then an active payment processor in the CRM (`processors`, or
    `processor_problem` when they could not be read), then the saga's own checks.
    """
    refusal = (
        {"currency": currency_problem} if currency_problem else await over_plan_limits(shop_domain, draft)
    )
    if refusal is None and not any(processor.active for processor in processors):
        refusal = {
            "payment_processors": processor_problem or "Add a payment processor in the CRM before you publish"
        }
    if refusal is None:
        try:
            await start_publish(shop_domain, draft.id)
        except PublishBlocked as blocked:
            refusal = {"publish": str(blocked)}
    return refusal


async def retry_publish(shop_domain: str, funnel_id: int) -> None:
    """Resumes at the failed step: done steps keep their results."""
    await load_draft(shop_domain, funnel_id)  # scope check
    async with write_transaction():
        await PublishStep.update(
            {PublishStep.status: PublishStepStatus.PENDING, PublishStep.error: None}
        ).where(
            (PublishStep.funnel == funnel_id)
            & (PublishStep.status.is_in([PublishStepStatus.FAILED, PublishStepStatus.RUNNING]))
        )
        await Funnel.update({Funnel.status: FunnelStatus.PUBLISHING}).where(Funnel.id == funnel_id)
        await _enqueue_saga(shop_domain, funnel_id)


async def publish_progress(funnel_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await PublishStep.select(
            PublishStep.name, PublishStep.status, PublishStep.error, PublishStep.attempts
        )
        .where(PublishStep.funnel == funnel_id)
        .order_by(PublishStep.position)
    )
    return [{**row, "title": STEP_TITLES.get(row["name"], row["name"])} for row in rows]


def _merchant_reason(exc: Exception) -> str:
    if isinstance(exc, Rejected):
        return f"{exc.system} refused: {str(exc).split(': ', 1)[-1]}"
    if isinstance(exc, ExternalServiceError):
        return f"{exc.system} did not answer properly ({str(exc).split(': ', 1)[-1]})."
    return f"Unexpected problem ({type(exc).__name__})."


async def run_publish(clients: ShopClients, job: JobContext, beacon_for: PageBeaconFor | None = None) -> None:
    funnel_id = int(job.payload["funnel_id"])
    shop_domain = str(job.shop_domain)
    draft = await load_draft(shop_domain, funnel_id)
    rows = await PublishStep.select().where(PublishStep.funnel == funnel_id).output(load_json=True)
    state = {row["name"]: row for row in rows}
    saga = SagaContext(
        shop_domain=shop_domain,
        draft=draft,
        shopify=await clients.shopify_for(shop_domain),
        crm=await clients.crm_for(shop_domain),
        templates=await clients.templates_for(shop_domain),
        beacon=beacon_for(shop_domain, funnel_id) if beacon_for is not None else None,
        results={
            name: row["result"] for name, row in state.items() if row["status"] == PublishStepStatus.DONE
        },
    )
    for name, _, step in STEPS:
        if state.get(name, {}).get("status") == PublishStepStatus.DONE:
            continue
        where = (PublishStep.funnel == funnel_id) & (PublishStep.name == name)
        await PublishStep.update(
            {
                PublishStep.status: PublishStepStatus.RUNNING,
                PublishStep.attempts: PublishStep.attempts + 1,
                PublishStep.updated_at: utcnow(),
            }
        ).where(where)
        try:
            result = await step(saga)
        except RateLimited as exc:
            await PublishStep.update(
                {PublishStep.status: PublishStepStatus.PENDING, PublishStep.error: None}
            ).where(where)
            raise RetryLater(exc.retry_after_seconds, str(exc)) from exc
        except Exception as exc:
            permanent = isinstance(exc, Rejected) or job.is_last_attempt
            reason = _merchant_reason(exc)
            await PublishStep.update(
                {
                    PublishStep.status: PublishStepStatus.FAILED if permanent else PublishStepStatus.PENDING,
                    PublishStep.error: reason,
                }
            ).where(where)
            if permanent:
                await Funnel.update({Funnel.status: FunnelStatus.FAILED, Funnel.updated_at: utcnow()}).where(
                    Funnel.id == funnel_id
                )
                log.warning("publish_failed", funnel_id=funnel_id, step=name, reason=reason)
                raise PermanentJobError(reason) from exc
            raise
        saga.results[name] = result
        await PublishStep.update(
            {
                PublishStep.status: PublishStepStatus.DONE,
                PublishStep.result: result,
                PublishStep.error: None,
                PublishStep.updated_at: utcnow(),
            }
        ).where(where)
    await Funnel.update(
        {
            Funnel.status: FunnelStatus.LIVE,
            Funnel.live_url: saga.results["verify"]["url"],
            Funnel.published_at: utcnow(),
            Funnel.page_synced_at: utcnow(),
            Funnel.updated_at: utcnow(),
        }
    ).where(Funnel.id == funnel_id)
    log.info("funnel_live", funnel_id=funnel_id)
