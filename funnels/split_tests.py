"""Split tests: two variants of a live funnel, visitors split between them, a winner chosen.

Variant A is the funnel's own page as it is; variant B is a site of its own on the page
service with one change (template, headline, an upsell's discount, or the upsells' order).
Visitors enter through the app's entry address (`/go/{funnel_id}`), which keeps a random
first-party id and sends each to one variant, always the same for the same id
(`assign_variant`). Each variant's figures come from the analytics rollups: variant A is the
funnel's page (analytics variant ""), variant B reports as `b_variant_key(test_id)`; a
conversion is a visitor accepting the main offer, judged with a two-proportion z-test once each
variant has MIN_VISITORS_PER_VARIANT visits. The merchant's chosen winner becomes the funnel (B's
change written to the funnel, then the funnel published again), and the test stays in history.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import structlog
from piccolo.query.functions.aggregate import Sum

from analytics.tables import FunnelDay, OfferDay
from connectors.errors import ExternalServiceError, RateLimited, Rejected
from connectors.templates import TemplatesUser
from funnels.livepage import PageBeaconFor, page_content
from funnels.publish import SPLIT_OFFER_PREFIX, PublishBlocked, start_publish
from funnels.services import FunnelDraft, FunnelNotFound, load_draft, remote_ids
from funnels.tables import (
    DiscountType,
    Funnel,
    FunnelStatus,
    HostKind,
    PublishStep,
    SplitTest,
    SplitTestChange,
    SplitTestStatus,
    Upsell,
)
from funnels.validation import Errors, parse_amount, upsell_errors
from iam.clients import ShopClients
from jobqueue.jobs import JobContext, PermanentJobError, RetryLater, enqueue
from lib.clock import utcnow
from lib.db import write_transaction

log = structlog.get_logger("funnels.split_tests")

JOB_START_SPLIT_TEST = "funnels.split_test.start"
JOB_END_SPLIT_TEST = "funnels.split_test.end"
SPLIT_JOB_MAX_ATTEMPTS = 4
HEADLINE_MAX = 300  # the page builder's limit
# Before this many visits in each variant no winner is suggested: a few early conversions
# swing the rates too much to mean anything.
MIN_VISITORS_PER_VARIANT = 100
SIGNIFICANCE = 0.05  # the z-test's two-sided p-value below which a winner is suggested
BUCKETS = 10_000  # assignment resolution: a split is honoured to 0.01 %
CHANGE_LABELS = {
    SplitTestChange.TEMPLATE: "Template",
    SplitTestChange.HEADLINE: "Headline",
    SplitTestChange.UPSELL_DISCOUNT: "An upsell's discount",
    SplitTestChange.UPSELL_ORDER: "The upsells' order",
}
METHOD = (
    "Two-proportion z-test (pooled, two-sided) on the share of visitors who accept the main offer; "
    f"a winner is suggested when p < {SIGNIFICANCE} and each variant has at least "
    f"{MIN_VISITORS_PER_VARIANT} visits."
)


class SplitTestNotFound(FunnelNotFound):
    """No such test on this funnel of the merchant's shop."""


def b_variant_key(test_id: int) -> str:
    """The analytics variant variant B's page reports under (A is the funnel's page: "")."""
    return f"split{test_id}b"


def assign_variant(test_id: int, visitor: str, b_percent: int) -> str:
    """ "a" or "b" for this visitor: the same id always gets the same variant in a test (a hash,
    nothing stored), and over many ids `b_percent` % get "b"."""
    digest = hashlib.sha256(f"{test_id}:{visitor}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % BUCKETS
    return "b" if bucket < b_percent * BUCKETS // 100 else "a"


# ---- starting a test -------------------------------------------------------------------------


def split_error(value: str) -> str | None:
    """Why a traffic split cannot be used, or None. The split is B's share, 1..99 %."""
    amount = parse_amount(value.rstrip("% ")) if value else None
    if amount is None:
        return "Enter the share of visitors for variant B as a whole number from 1 to 99, like 50"
    if amount != amount.to_integral_value():
        return "Use a whole number of percent, like 50"
    if amount <= 0:
        return "A split of 0 % sends nobody to variant B: enter 1 to 99"
    if amount >= 100:
        return (
            "A split of 100 % or more leaves nobody on variant A: enter 1 to 99 "
            "(to change the funnel for everyone, edit it instead)"
        )
    return None


def _variant_b(
    draft: FunnelDraft, change: str, form: dict[str, str], templates: dict[str, str]
) -> tuple[dict[str, Any], Errors]:
    """B's change from the form, and the errors saying what to fix (then the change is {})."""
    funnel = draft.funnel
    if change == SplitTestChange.TEMPLATE:
        template_id = form.get("template_id", "")
        if template_id not in templates:
            return {}, {"template_id": "Choose a template for variant B"}
        if template_id == funnel["template_id"]:
            return {}, {"template_id": "Choose a template other than the funnel's own"}
        return {"template_id": template_id, "template_name": templates[template_id]}, {}
    if change == SplitTestChange.HEADLINE:
        headline = form.get("headline", "")
        if not headline:
            return {}, {"headline": "Enter variant B's headline"}
        if len(headline) > HEADLINE_MAX:
            return {}, {
                "headline": f"Headline must be {HEADLINE_MAX} characters or fewer (it is {len(headline)})"
            }
        if headline == (funnel["description"] or funnel["name"])[:HEADLINE_MAX]:
            return {}, {"headline": "Enter a headline other than the funnel's own"}
        return {"headline": headline}, {}
    if change == SplitTestChange.UPSELL_DISCOUNT:
        row = {str(r["id"]): r for r in draft.upsells}.get(form.get("upsell_id", ""))
        if row is None:
            return {}, {"upsell_id": "Choose the upsell whose discount variant B changes"}
        price = parse_amount(str(row["product"].get("price") or ""))
        discount_type, discount_value = form.get("discount_type", ""), form.get("discount_value", "").strip()
        errors = upsell_errors(row["headline"], discount_type, discount_value, price)
        if errors:
            return {}, errors
        if discount_type == DiscountType.NONE:
            discount_value = "0"
        if (discount_type, discount_value) == (row["discount_type"], row["discount_value"]):
            return {}, {"discount_value": "Enter a discount other than the upsell's own"}
        return {"upsell_id": row["id"], "discount_type": discount_type, "discount_value": discount_value}, {}
    if change == SplitTestChange.UPSELL_ORDER:
        if len(draft.upsells) < 2:
            return {}, {"change": "Reordering needs at least two upsells: add one, or test something else"}
        # B shows the upsells in reverse: the simplest order test, and different by construction.
        return {"upsell_ids": [row["id"] for row in reversed(draft.upsells)]}, {}
    return {}, {"change": "Choose what variant B changes"}


async def start_split_test(
    shop_domain: str, funnel_id: int, form: dict[str, str], templates: dict[str, str]
) -> Errors:
    """Starts a test of a live funnel (variant B's page is published by a job), or says what to
    fix; on any error nothing is stored. `templates`: the page service's, id → name."""
    draft = await load_draft(shop_domain, funnel_id)
    if draft.funnel["status"] != FunnelStatus.LIVE:
        return {"change": "Only a live funnel can be split-tested: publish it first"}
    if await _current(funnel_id) is not None:
        return {"change": "This funnel already runs a split test: choose its winner first"}
    change = form.get("change", "")
    variant, errors = _variant_b(draft, change, form, templates)
    problem = split_error(form.get("b_percent", ""))
    if problem:
        errors["b_percent"] = problem
    if errors:
        return errors
    async with write_transaction():
        rows = await SplitTest.insert(
            SplitTest(
                funnel=funnel_id,
                shop_domain=shop_domain,
                change=change,
                variant_b=variant,
                b_percent=int(Decimal(form["b_percent"].rstrip("% "))),
                started_at=utcnow(),
            )
        ).returning(SplitTest.id)
        await enqueue(
            JOB_START_SPLIT_TEST,
            {"test_id": int(rows[0]["id"])},
            shop_domain=shop_domain,
            ordering_key=f"publish:{funnel_id}",
            max_attempts=SPLIT_JOB_MAX_ATTEMPTS,
        )
    return {}


async def _current(funnel_id: int) -> dict[str, Any] | None:
    current: dict[str, Any] | None = (
        await SplitTest.select()
        .where(
            (SplitTest.funnel == funnel_id)
            & SplitTest.status.is_in([SplitTestStatus.STARTING, SplitTestStatus.RUNNING])
        )
        .output(load_json=True)
        .first()
    )
    return current


def variant_b_draft(draft: FunnelDraft, test: dict[str, Any]) -> FunnelDraft:
    """The funnel as variant B shows it."""
    change, b = test["change"], test["variant_b"]
    if change == SplitTestChange.TEMPLATE:
        return replace(draft, funnel={**draft.funnel, **b})
    if change == SplitTestChange.UPSELL_ORDER:
        by_id = {row["id"]: row for row in draft.upsells}
        ordered = [by_id[upsell_id] for upsell_id in b["upsell_ids"] if upsell_id in by_id]
        return replace(draft, upsells=ordered + [r for r in draft.upsells if r["id"] not in b["upsell_ids"]])
    if change == SplitTestChange.UPSELL_DISCOUNT:
        upsells = [
            {**row, "discount_type": b["discount_type"], "discount_value": b["discount_value"]}
            if row["id"] == b["upsell_id"]
            else row
            for row in draft.upsells
        ]
        return replace(draft, upsells=upsells)
    return draft


def b_subdomain(funnel: dict[str, Any], test_id: int) -> str:
    """Variant B's address on the page host: the funnel's subdomain with `-b{test}`."""
    suffix = f"-b{test_id}"
    base = funnel["subdomain"] if funnel["host_kind"] == HostKind.SUBDOMAIN else f"funnel{funnel['id']}"
    return f"{str(base)[: 63 - len(suffix)].rstrip('-')}{suffix}"


def b_offer_key(test_id: int, upsell_id: int) -> str:
    return f"{SPLIT_OFFER_PREFIX}{test_id}:upsell:{upsell_id}"


async def run_start_split_test(
    clients: ShopClients, job: JobContext, beacon_for: PageBeaconFor | None = None
) -> None:
    """Publishes variant B's site (and its own CRM offer for a discount test), then runs the test."""
    test_id, shop_domain = int(job.payload["test_id"]), str(job.shop_domain)
    test = await SplitTest.select().where(SplitTest.id == test_id).output(load_json=True).first()
    if test is None or test["status"] != SplitTestStatus.STARTING:
        return
    try:
        draft = await load_draft(shop_domain, int(test["funnel"]))
        remote = await remote_ids(draft.id)
        campaign_id = remote["campaign_id"]
        variant = variant_b_draft(draft, test)
        crm = await clients.crm_for(shop_domain)
        keys: dict[int, str] = {}
        if test["change"] == SplitTestChange.UPSELL_DISCOUNT:
            upsell_id = int(test["variant_b"]["upsell_id"])
            offers = {str(o.get("external_id")): o for o in await crm.campaign_offers(campaign_id)}
            original = offers[f"upsell:{upsell_id}"]
            row = next(r for r in variant.upsells if r["id"] == upsell_id)
            keys[upsell_id] = b_offer_key(test_id, upsell_id)
            await crm.upsert_offer(
                campaign_id,
                {
                    "external_id": keys[upsell_id],
                    "product_id": original["product_id"],
                    "kind": "upsell",
                    "position": original.get("position", 1),
                    "headline": row["headline"],
                    "discount_type": row["discount_type"],
                    "discount_value": row["discount_value"],
                },
            )
        content = await page_content(
            variant,
            campaign_id,
            await clients.shopify_for(shop_domain),
            crm,
            upsell_offer_keys=keys,
            beacon=beacon_for(shop_domain, draft.id, b_variant_key(test_id)) if beacon_for else None,
        )
        if test["change"] == SplitTestChange.HEADLINE:
            content = replace(content, headline=str(test["variant_b"]["headline"]))
        templates = await clients.templates_for(shop_domain)
        site = await templates.upsert_site(
            {
                "external_id": f"split:{test_id}:b",
                "template_id": variant.funnel["template_id"],
                "host": {"kind": "subdomain", "subdomain": b_subdomain(draft.funnel, test_id)},
                "content": content.as_json(),
            }
        )
        published = await templates.publish_site(str(site["id"]))
    except RateLimited as exc:
        raise RetryLater(exc.retry_after_seconds, str(exc)) from exc
    except (Rejected, KeyError) as exc:
        await _fail(test_id, f"Variant B's page could not be made: {exc}")
        raise PermanentJobError(str(exc)) from exc
    except ExternalServiceError as exc:
        if job.is_last_attempt:
            await _fail(test_id, f"Variant B's page could not be published: {exc}")
        raise
    await SplitTest.update(
        {
            SplitTest.status: SplitTestStatus.RUNNING,
            SplitTest.b_site_id: str(site["id"]),
            SplitTest.b_url: str(published.get("view_url") or published["url"]),
            SplitTest.started_at: utcnow(),
        }
    ).where(SplitTest.id == test_id)
    log.info("split_test_running", test_id=test_id)


async def _fail(test_id: int, reason: str) -> None:
    await SplitTest.update(
        {SplitTest.status: SplitTestStatus.FAILED, SplitTest.error: reason, SplitTest.ended_at: utcnow()}
    ).where(SplitTest.id == test_id)


# ---- the entry address -----------------------------------------------------------------------


async def entry_target(funnel_id: int, visitor: str) -> str | None:
    """Where the funnel's entry address sends this visitor now: A's or B's page while a test
    runs, else the funnel's page; None for a funnel that is not live."""
    funnel = await Funnel.select(Funnel.status, Funnel.live_url).where(Funnel.id == funnel_id).first()
    if funnel is None or funnel["status"] != FunnelStatus.LIVE or not funnel["live_url"]:
        return None
    test = (
        await SplitTest.select(SplitTest.id, SplitTest.b_percent, SplitTest.b_url)
        .where((SplitTest.funnel == funnel_id) & (SplitTest.status == SplitTestStatus.RUNNING))
        .first()
    )
    if test is not None and test["b_url"] and assign_variant(test["id"], visitor, test["b_percent"]) == "b":
        return str(test["b_url"])
    return str(funnel["live_url"])


# ---- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantFigures:
    variant: str  # "a" or "b"
    visits: int
    conversions: int  # visitors who accepted the main offer

    @property
    def rate(self) -> float:
        return self.conversions / self.visits if self.visits else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"variant": self.variant, "visits": self.visits, "conversions": self.conversions}


@dataclass(frozen=True)
class Verdict:
    z: float | None
    p_value: float | None
    enough_data: bool
    suggested: str | None  # "a", "b" or None (no clear difference, or too little data)


def two_proportion_z_test(a: VariantFigures, b: VariantFigures) -> Verdict:
    """Pooled two-proportion z-test, two-sided: is B's conversion rate different from A's?"""
    enough = min(a.visits, b.visits) >= MIN_VISITORS_PER_VARIANT
    if not a.visits or not b.visits:
        return Verdict(None, None, enough, None)
    pooled = (a.conversions + b.conversions) / (a.visits + b.visits)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / a.visits + 1 / b.visits))
    if spread == 0:
        return Verdict(0.0, 1.0, enough, None)
    z = (b.rate - a.rate) / spread
    p_value = math.erfc(abs(z) / math.sqrt(2))
    suggested = ("b" if z > 0 else "a") if enough and p_value < SIGNIFICANCE else None
    return Verdict(z, p_value, enough, suggested)


def _days(test: dict[str, Any]) -> tuple[date, date]:
    started: datetime = test["started_at"]
    ended: datetime = test["ended_at"] or utcnow()
    return started.date(), ended.date()


async def _main_offer_id(funnel_id: int) -> str:
    step = (
        await PublishStep.select(PublishStep.result)
        .where((PublishStep.funnel == funnel_id) & (PublishStep.name == "offers"))
        .output(load_json=True)
        .first()
    )
    offers = ((step or {}).get("result") or {}).get("offers") or {}
    return str(offers.get(f"funnel:{funnel_id}:main") or "")


async def _sum(table: Any, column: Any, where: Any) -> int:
    row = await table.select(Sum(column, alias="total")).where(where).first()
    return int((row or {}).get("total") or 0)


async def variant_figures(test: dict[str, Any]) -> tuple[VariantFigures, VariantFigures]:
    """Each variant's figures over the test's days, read from the analytics rollups."""
    funnel_id = int(test["funnel"])
    first, last = _days(test)
    main_offer = await _main_offer_id(funnel_id)
    figures = []
    for name, key in (("a", ""), ("b", b_variant_key(int(test["id"])))):
        days = (FunnelDay.funnel_id == funnel_id) & (FunnelDay.variant == key)
        days &= (FunnelDay.day >= first) & (FunnelDay.day <= last)
        offers = (
            (OfferDay.funnel_id == funnel_id) & (OfferDay.variant == key) & (OfferDay.offer == main_offer)
        )
        offers &= (OfferDay.day >= first) & (OfferDay.day <= last)
        figures.append(
            VariantFigures(
                name,
                await _sum(FunnelDay, FunnelDay.visits, days),
                await _sum(OfferDay, OfferDay.accepts, offers) if main_offer else 0,
            )
        )
    return figures[0], figures[1]


@dataclass(frozen=True)
class TestView:
    test: dict[str, Any]
    label: str
    a: VariantFigures
    b: VariantFigures
    verdict: Verdict


async def _view(test: dict[str, Any]) -> TestView:
    if test["status"] == SplitTestStatus.ENDED and test["results"]:
        stored = test["results"]
        a, b = VariantFigures(**stored["a"]), VariantFigures(**stored["b"])
    else:
        a, b = await variant_figures(test)
    return TestView(
        test,
        CHANGE_LABELS.get(SplitTestChange(test["change"]), test["change"]),
        a,
        b,
        two_proportion_z_test(a, b),
    )


async def split_tests_of(shop_domain: str, funnel_id: int) -> tuple[TestView | None, list[TestView]]:
    """The funnel's current test (starting or running) and its history, newest first."""
    await load_draft(shop_domain, funnel_id)  # scope check
    rows = (
        await SplitTest.select()
        .where((SplitTest.funnel == funnel_id) & (SplitTest.shop_domain == shop_domain))
        .order_by(SplitTest.id, ascending=False)
        .output(load_json=True)
    )
    views = [await _view(row) for row in rows]
    current = next(
        (v for v in views if v.test["status"] in (SplitTestStatus.STARTING, SplitTestStatus.RUNNING)), None
    )
    return current, [v for v in views if v is not current]


# ---- ending a test ---------------------------------------------------------------------------


async def choose_winner(shop_domain: str, funnel_id: int, test_id: int, winner: str) -> Errors:
    """Ends the running test with the merchant's winner: B's change becomes the funnel and the
    funnel is published again; either way B's page goes offline and the test joins the history."""
    draft = await load_draft(shop_domain, funnel_id)
    test = (
        await SplitTest.select()
        .where(
            (SplitTest.id == test_id)
            & (SplitTest.funnel == funnel_id)
            & (SplitTest.shop_domain == shop_domain)
        )
        .output(load_json=True)
        .first()
    )
    if test is None:
        raise SplitTestNotFound(test_id)
    if winner not in ("a", "b"):
        return {"winner": "Choose variant A or variant B as the winner"}
    if test["status"] != SplitTestStatus.RUNNING:
        return {"winner": "This test is not running: only a running test's winner can be chosen"}
    if draft.funnel["status"] != FunnelStatus.LIVE:
        return {"winner": "The funnel is being published: choose the winner once it is live again"}
    a, b = await variant_figures(test)
    async with write_transaction():
        if winner == "b":
            await _apply_variant_b(draft, test)
        await SplitTest.update(
            {
                SplitTest.status: SplitTestStatus.ENDED,
                SplitTest.winner: winner,
                SplitTest.ended_at: utcnow(),
                SplitTest.results: {"a": a.as_json(), "b": b.as_json()},
            }
        ).where(SplitTest.id == test_id)
        await enqueue(
            JOB_END_SPLIT_TEST,
            {"test_id": test_id},
            shop_domain=shop_domain,
            ordering_key=f"publish:{funnel_id}",
            max_attempts=SPLIT_JOB_MAX_ATTEMPTS,
        )
        if winner == "b":
            try:
                await start_publish(shop_domain, funnel_id)
            except PublishBlocked as blocked:  # the funnel's steps were all done when it went live
                raise Rejected("FunnelSync", str(blocked)) from blocked
    return {}


async def _apply_variant_b(draft: FunnelDraft, test: dict[str, Any]) -> None:
    change, b = test["change"], test["variant_b"]
    funnel_id = draft.id
    if change == SplitTestChange.TEMPLATE:
        values: dict[Any, Any] = {
            Funnel.template_id: b["template_id"],
            Funnel.template_name: b["template_name"],
        }
    elif change == SplitTestChange.HEADLINE:
        values = {Funnel.description: b["headline"]}  # the page's headline is the description
    elif change == SplitTestChange.UPSELL_DISCOUNT:
        await Upsell.update(
            {Upsell.discount_type: b["discount_type"], Upsell.discount_value: b["discount_value"]}
        ).where((Upsell.id == b["upsell_id"]) & (Upsell.funnel == funnel_id))
        values = {}
    else:
        for position, upsell_id in enumerate(b["upsell_ids"]):
            await Upsell.update({Upsell.position: position}).where(
                (Upsell.id == upsell_id) & (Upsell.funnel == funnel_id)
            )
        values = {}
    await Funnel.update({**values, Funnel.updated_at: utcnow()}).where(Funnel.id == funnel_id)


async def stop_for_archive(templates: TemplatesUser | None, funnel_id: int) -> None:
    """Archiving a funnel ends its test without a winner: B's page goes offline with A's.

    The page service's client is handed in, got before the funnel's lock is taken (getting it
    may store a renewed token, which must not wait for that lock)."""
    test = await _current(funnel_id)
    if test is None:
        return
    if test["b_site_id"] and templates is not None:
        await templates.unpublish_site(str(test["b_site_id"]))
    a, b = await variant_figures(test)
    await SplitTest.update(
        {
            SplitTest.status: SplitTestStatus.ENDED,
            SplitTest.ended_at: utcnow(),
            SplitTest.error: "Ended without a winner: the funnel was archived",
            SplitTest.results: {"a": a.as_json(), "b": b.as_json()},
        }
    ).where(SplitTest.id == test["id"])


async def run_end_split_test(clients: ShopClients, job: JobContext) -> None:
    """Takes variant B's page offline and removes its own CRM offer, if it had one."""
    test_id, shop_domain = int(job.payload["test_id"]), str(job.shop_domain)
    test = await SplitTest.select().where(SplitTest.id == test_id).output(load_json=True).first()
    if test is None:
        return
    if test["b_site_id"]:
        await (await clients.templates_for(shop_domain)).unpublish_site(str(test["b_site_id"]))
    if test["change"] == SplitTestChange.UPSELL_DISCOUNT:
        campaign_id = (await remote_ids(int(test["funnel"]))).get("campaign_id")
        if campaign_id:
            crm = await clients.crm_for(shop_domain)
            wanted = b_offer_key(test_id, int(test["variant_b"]["upsell_id"]))
            for offer in await crm.campaign_offers(campaign_id):
                if offer.get("external_id") == wanted:
                    await crm.delete_offer(campaign_id, str(offer["id"]))
