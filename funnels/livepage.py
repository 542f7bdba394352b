"""The live funnel page: what it shows, built from the store and the CRM, and kept true.

Every price on the page is the price the CRM charges for that offer (read back from the CRM's
offers, never computed here), so the page cannot promise a price the checkout does not charge.
Titles, images and stock come from Shopify as it is now. After publishing, a product change
that sync hands in (`queue_page_refresh`) rebuilds the content and republishes the page in
place, and the funnel records when its page last matched the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

import structlog
from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency

from connectors.crm import CrmUser
from connectors.errors import ExternalServiceError, Rejected
from connectors.shopify import ShopifyAdmin
from connectors.templates import OfferBlock, PageBeacon, PageContent, PageImage
from funnels.services import FunnelDraft, funnel_page_locked, load_draft, remote_ids
from funnels.sync_scope import live_funnels
from funnels.tables import DiscountType, Funnel, FunnelStatus, HostKind
from funnels.validation import currency_refusal
from iam.clients import ShopClients
from iam.tokens import ShopNotConnected
from jobqueue.jobs import JobContext, enqueue
from lib.clock import utcnow


class PageBeaconFor(Protocol):
    """The beacon a funnel's live page carries (onboarding builds it from analytics.beacon and
    the settings' key): shop, funnel id and analytics variant → the signed tag. A split test's
    variant B reports under its own variant (funnels.split_tests), the funnel's page under ""."""

    def __call__(self, shop_domain: str, funnel_id: int, variant: str = "") -> PageBeacon: ...


log = structlog.get_logger("funnels.livepage")

JOB_REFRESH_LIVE_PAGE = "funnels.refresh_live_page"
# What the page shows of each variant. `availableForSale` is Shopify's own answer to "can it be
# bought now" (stock, the variant's inventory policy and whether stock is tracked).
PAGE_VARIANTS_QUERY = """
query LivePageVariants($ids: [ID!]!) {
  shop { currencyCode }
  nodes(ids: $ids) {
    ... on ProductVariant {
      id title price inventoryQuantity availableForSale image { url altText }
      product { id title featuredImage { url altText } }
    }
  }
}
"""
REFRESH_MAX_ATTEMPTS = 6
HEADLINE_MAX = 300  # the page builder's limit
BUY_MAIN = "Buy now"
BUY_UPSELL = "Yes, add this to my order"
BUY_DOWNSELL = "Yes, I'll take this instead"
SOLD_OUT = "Sold out"
DEFAULT_VARIANT_TITLE = "Default Title"
CENT = Decimal("0.01")


def locale_for(country: str) -> str:
    """The locale a page for shoppers in `country` writes prices in (CLDR's likely language)."""
    try:
        likely = Locale.parse(f"und_{country}")
    except (ValueError, UnknownLocaleError):
        return "en-US"
    return f"{likely.language}-{likely.territory or country}"


def format_money(amount: Decimal | str, currency: str, country: str) -> str:
    """`amount` as shoppers in `country` read it: 47.60 EUR for DE is "47,60 €"."""
    return format_currency(Decimal(amount), currency, locale=locale_for(country).replace("-", "_"))


def expected_offer_price(price: Decimal, discount_type: str, discount_value: str) -> Decimal:
    """What an offer will cost before the CRM has it (the review page): the CRM's own rule,
    the discount off the product's price, rounded half up to the cent, never below zero.
    Published pages show the CRM's answer instead."""
    value = Decimal(discount_value or "0")
    if discount_type == DiscountType.PERCENTAGE:
        price -= price * value / 100
    elif discount_type == DiscountType.FIXED_AMOUNT:
        price -= value
    return max(price, Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)


async def store_variants(shopify: ShopifyAdmin, variant_ids: list[str]) -> tuple[str, dict[str, Any]]:
    """The store's currency and the variants as Shopify holds them now (deleted ones absent)."""
    current = await shopify.graphql(PAGE_VARIANTS_QUERY, {"ids": variant_ids})
    nodes = {node["id"]: node for node in current.data.get("nodes") or [] if node}
    return str((current.data.get("shop") or {}).get("currencyCode") or ""), nodes


def downsell_external_id(funnel_id: int) -> str:
    """The CRM offer id of a funnel's downsell (one per funnel)."""
    return f"downsell:{funnel_id}"


def offered_variant_ids(draft: FunnelDraft) -> list[str]:
    """Every variant the funnel offers, once each: main product, upsells, then the downsell."""
    ids = [draft.funnel["main_variant_id"], *(row["variant_id"] for row in draft.upsells)]
    if draft.downsell is not None:
        ids.append(draft.downsell["variant_id"])
    return list(dict.fromkeys(ids))


def _sold_out(variant: dict[str, Any] | None) -> bool:
    # A variant deleted from the store since cannot be bought either.
    return variant is None or variant.get("availableForSale") is False


def _block(
    offer: dict[str, Any],
    product: dict[str, Any],
    variant: dict[str, Any] | None,
    snapshot: dict[str, Any],
    headline: str,
    call_to_action: str,
) -> OfferBlock:
    """One offer: the CRM's prices; Shopify's title, variant, image and stock (or, for a
    variant deleted since, what the merchant chose)."""
    shop_product = (variant or {}).get("product") or {}
    image = (variant or {}).get("image") or shop_product.get("featuredImage") or {}
    image_url = image.get("url") or snapshot.get("image_url")
    title = str(shop_product.get("title") or snapshot.get("title") or product.get("name") or "")
    image_alt = str(image.get("altText") or snapshot.get("image_alt") or title)
    variant_title = str((variant or {}).get("title") or snapshot.get("variant_title") or "")
    available = not _sold_out(variant)
    return OfferBlock(
        offer_id=str(offer["id"]),
        headline=headline,
        product_title=title,
        variant_title="" if variant_title == DEFAULT_VARIANT_TITLE else variant_title,
        image=PageImage(str(image_url), image_alt) if image_url else None,
        original_price=Decimal(str(product["price"])),
        price=Decimal(str(offer["price"])),
        available=available,
        stock=(variant or {}).get("inventoryQuantity"),
        call_to_action=call_to_action if available else SOLD_OUT,
    )


async def page_content(
    draft: FunnelDraft,
    campaign_id: str,
    shopify: ShopifyAdmin,
    crm: CrmUser,
    beacon: PageBeacon | None = None,
    upsell_offer_keys: Mapping[int, str] | None = None,
) -> PageContent:
    """The page as it should be now: the campaign's offers at the CRM's prices, the products
    as the store holds them. A sold-out main product stays, shown as sold out; an upsell
    whose variant sold out (or left the store) is left out, and so is the downsell (also when
    no upsell is shown: there is nothing to decline)."""
    funnel = draft.funnel
    _, variants = await store_variants(shopify, offered_variant_ids(draft))
    offers = {str(offer.get("external_id")): offer for offer in await crm.campaign_offers(campaign_id)}
    products: dict[str, dict[str, Any]] = {}

    async def product_of(offer: dict[str, Any]) -> dict[str, Any]:
        product_id = str(offer["product_id"])
        if product_id not in products:
            found = await crm.get(f"/api/v1/products/{product_id}")
            if found is None:
                raise Rejected("CRM", f"the product of offer {offer['id']} is gone from the CRM")
            products[product_id] = found
        return products[product_id]

    main_offer = offers.get(f"funnel:{draft.id}:main")
    if main_offer is None:
        raise Rejected("CRM", "the campaign has no main offer: publish the funnel again")
    main = _block(
        main_offer,
        await product_of(main_offer),
        variants.get(funnel["main_variant_id"]),
        funnel["main_product"],
        "",
        BUY_MAIN,
    )
    upsells = []
    for row in draft.upsells:
        # A split test's variant B may sell an upsell through an offer of its own.
        offer = offers.get((upsell_offer_keys or {}).get(row["id"]) or f"upsell:{row['id']}")
        variant = variants.get(row["variant_id"])
        if offer is None or _sold_out(variant):
            continue
        upsells.append(
            _block(offer, await product_of(offer), variant, row["product"], row["headline"], BUY_UPSELL)
        )
    downsell = None
    if draft.downsell is not None and upsells:  # offered on declining an upsell: none shown, none declined
        offer = offers.get(downsell_external_id(draft.id))
        variant = variants.get(draft.downsell["variant_id"])
        if offer is not None and not _sold_out(variant):
            row = draft.downsell
            downsell = _block(
                offer, await product_of(offer), variant, row["product"], row["headline"], BUY_DOWNSELL
            )
    return PageContent(
        title=funnel["name"],
        headline=(funnel["description"] or funnel["name"])[:HEADLINE_MAX],
        currency=funnel["currency"],
        locale=locale_for(funnel["country"]),
        crm_campaign_id=campaign_id,
        main_offer=main,
        upsells=tuple(upsells),
        downsell=downsell,
        beacon=beacon,
    )


@dataclass(frozen=True)
class ReviewLine:
    """One offer on the check-answers page, at the store's current price."""

    label: str
    original_price: str  # formatted; "" when the store could not be read
    price: str  # what the offer will charge, formatted
    sold_out: bool


@dataclass(frozen=True)
class Review:
    main: ReviewLine
    upsells: list[ReviewLine]
    downsell: ReviewLine | None
    currency_problem: str | None  # the campaign's currency is not the store's
    store_problem: str | None  # Shopify could not be read: snapshot prices shown


async def review_of(clients: ShopClients, shop_domain: str, draft: FunnelDraft) -> Review:
    """The offers as the live page will sell them: the store's prices now (not those seen when
    the products were chosen), after each offer's discount, in the campaign's currency."""
    funnel = draft.funnel
    ids = offered_variant_ids(draft)
    store_currency, store_problem = "", None
    variants: dict[str, Any] = {}
    try:
        store_currency, variants = await store_variants(await clients.shopify_for(shop_domain), ids)
    except (ExternalServiceError, ShopNotConnected):
        store_problem = "We could not read your store just now: prices are those you saw when choosing."
    currency = funnel["currency"]

    def line(variant_id: str, snapshot: dict[str, Any], label: str, discount: tuple[str, str]) -> ReviewLine:
        variant = variants.get(variant_id)
        price = Decimal(str((variant or {}).get("price") or snapshot.get("price") or "0"))
        offer = expected_offer_price(price, *discount)
        return ReviewLine(
            label=label,
            original_price=format_money(price, currency, funnel["country"]) if offer < price else "",
            price=format_money(offer, currency, funnel["country"]),
            sold_out=store_problem is None and _sold_out(variant),
        )

    main = draft.main_product
    return Review(
        main=line(
            funnel["main_variant_id"],
            funnel["main_product"],
            main.display_name if main else "",
            (DiscountType.NONE, "0"),
        ),
        upsells=[
            line(
                row["variant_id"],
                row["product"],
                row["headline"],
                (row["discount_type"], row["discount_value"]),
            )
            for row in draft.upsells
        ],
        downsell=line(
            draft.downsell["variant_id"],
            draft.downsell["product"],
            draft.downsell["headline"],
            (draft.downsell["discount_type"], draft.downsell["discount_value"]),
        )
        if draft.downsell is not None
        else None,
        currency_problem=currency_refusal(currency, store_currency),
        store_problem=store_problem,
    )


async def page_address(clients: ShopClients, shop_domain: str, funnel: dict[str, Any]) -> str | None:
    """Where the page will live, as the page builder says (None when it cannot say just now)."""
    if funnel["host_kind"] == HostKind.CUSTOM_DOMAIN:
        return f"https://{funnel['custom_domain']}/"
    try:
        templates = await clients.templates_for(shop_domain)
        return (await templates.check_subdomain(str(funnel["subdomain"]))).url
    except ExternalServiceError:
        return None


async def queue_page_refresh(shop_domain: str, variant_ids: frozenset[str]) -> None:
    """Sync's hook after products changed in the store: each live funnel that sells one of
    them and keeps products synchronized gets its page rebuilt, behind any publish of it."""
    for funnel in await live_funnels(shop_domain):
        if funnel.keep_products_synced and funnel.variant_ids & variant_ids:
            await enqueue(
                JOB_REFRESH_LIVE_PAGE,
                {"funnel_id": funnel.funnel_id},
                shop_domain=shop_domain,
                ordering_key=f"publish:{funnel.funnel_id}",
                max_attempts=REFRESH_MAX_ATTEMPTS,
            )


def _refreshable(funnel: dict[str, Any] | None) -> bool:
    # Not archived (or being archived), not being published again (that builds the page), and
    # kept in sync with the store.
    return (
        funnel is not None and funnel["status"] == FunnelStatus.LIVE and bool(funnel["keep_products_synced"])
    )


async def refresh_live_page(
    clients: ShopClients, job: JobContext, beacon_for: PageBeaconFor | None = None
) -> None:
    """Rebuilds a live funnel's page from the store and the CRM and republishes it in place.

    The content is built first, without a lock (store and CRM reads); the page is written only
    under the funnel's lock after reading the status again (`funnel_page_locked`), so an archive
    that finished meanwhile stops it, and one that starts meanwhile waits for it, then takes
    the page offline.
    """
    shop_domain, funnel_id = str(job.shop_domain), int(job.payload["funnel_id"])
    draft = await load_draft(shop_domain, funnel_id)
    if not _refreshable(draft.funnel):
        return
    remote = await remote_ids(funnel_id)  # a live funnel's saga made both
    site_id, campaign_id = remote["site_id"], remote["campaign_id"]
    content = await page_content(
        draft,
        campaign_id,
        await clients.shopify_for(shop_domain),
        await clients.crm_for(shop_domain),
        beacon_for(shop_domain, funnel_id) if beacon_for is not None else None,
    )
    templates = await clients.templates_for(shop_domain)
    async with funnel_page_locked(shop_domain, funnel_id) as funnel:
        if not _refreshable(funnel):
            log.info("live_page_refresh_dropped", funnel_id=funnel_id, status=funnel and funnel["status"])
            return
        site = await templates.update_site(site_id, {"content": content.as_json()})
        if site.get("unpublished_changes"):
            site = await templates.publish_site(site_id)
        await Funnel.update({Funnel.page_synced_at: utcnow()}).where(Funnel.id == funnel_id)
    log.info("live_page_refreshed", funnel_id=funnel_id, version=site.get("version"))
