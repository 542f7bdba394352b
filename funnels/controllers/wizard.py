"""The funnel wizard's first steps: campaign, main product and upsells, with the live searches."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from billing.services import entitlements
from connectors.errors import ExternalServiceError
from funnels import services
from funnels.catalog import SearchPage, VariantChoice, find_variant, search_catalog, store_currency
from funnels.controllers.shared import (
    AnyRequest,
    Form,
    after_step,
    form_field,
    open_step,
    same_step,
    step_url,
    wizard_page,
)
from funnels.services import FunnelDraft, load_draft
from funnels.tables import FunnelStatus
from funnels.validation import campaign_errors
from iam.controllers import Clients, ShopDomain, current_shop
from iam.tokens import ShopNotConnected

log = structlog.get_logger("funnels.wizard")


async def _store_currency(clients: Clients, shop_domain: str) -> str | None:
    """The store's currency, or None when Shopify cannot say just now."""
    try:
        return await store_currency(clients, shop_domain)
    except (ExternalServiceError, ShopNotConnected) as exc:
        log.warning("store_currency_unavailable", shop=shop_domain, error=type(exc).__name__)
        return None


async def search_results(
    clients: Clients, shop_domain: str, text: str, after: str | None = None
) -> tuple[SearchPage | None, str | None]:
    try:
        return await search_catalog(clients, shop_domain, text, after), None
    except (ExternalServiceError, ShopNotConnected) as exc:
        log.warning("catalog_search_failed", shop=shop_domain, error=type(exc).__name__)
        return None, "We could not search your store just now. Try again in a moment."


class FunnelWizardController(Controller):
    path = "/funnels"
    dependencies = {"shop_domain": current_shop}

    @post("/", status_code=303)
    async def create(self, shop_domain: ShopDomain) -> Redirect:
        funnel_id = await services.create_funnel(shop_domain)
        return Redirect(step_url(funnel_id, "campaign"), status_code=303)

    @get("/{funnel_id:int}")
    async def resume(self, shop_domain: ShopDomain, funnel_id: FromPath[int]) -> Redirect:
        """Leaving and coming back lands on the first unfinished step."""
        draft = await load_draft(shop_domain, funnel_id)
        if draft.funnel["status"] == FunnelStatus.ARCHIVED:
            return Redirect(f"/funnels/{funnel_id}/archive")
        return Redirect(step_url(funnel_id, draft.next_step))

    # 1. Campaign information

    @get("/{funnel_id:int}/campaign")
    async def campaign(
        self, shop_domain: ShopDomain, clients: Clients, funnel_id: FromPath[int]
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "campaign")
        if isinstance(draft, Redirect):
            return draft
        store = await _store_currency(clients, shop_domain)
        values = {**draft.funnel, "currency": draft.funnel["currency"] or store or ""}
        return wizard_page(draft, "campaign", values=values, store_currency=store)

    @post("/{funnel_id:int}/campaign", status_code=303)
    async def save_campaign(
        self,
        request: AnyRequest,
        shop_domain: ShopDomain,
        clients: Clients,
        funnel_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "campaign")
        if isinstance(draft, Redirect):
            return draft
        values = {name: form_field(data, name) for name in ("name", "description", "currency", "country")}
        store = await _store_currency(clients, shop_domain)
        if store is None:
            errors = {"currency": "We could not check your store's currency just now. Try again in a moment"}
        else:
            errors = await services.save_campaign(shop_domain, funnel_id, values, store)
        if errors:
            return wizard_page(
                draft, "campaign", errors=errors, values=values, store_currency=store, status_code=400
            )
        return Redirect(after_step(request, funnel_id, "product"), status_code=303)

    @post("/{funnel_id:int}/campaign/check", status_code=200)
    async def check_campaignform_field(
        self, shop_domain: ShopDomain, clients: Clients, funnel_id: FromPath[int], data: Form
    ) -> Template:
        """Inline validation: the message for one field, from the same rules as saving."""
        await load_draft(shop_domain, funnel_id)
        field = form_field(data, "field")
        errors = campaign_errors(
            form_field(data, "name"),
            form_field(data, "description"),
            form_field(data, "currency"),
            form_field(data, "country"),
            await _store_currency(clients, shop_domain) if field == "currency" else None,
        )
        return Template(
            template_name="partials/field_error.html",
            context={"field": field, "errors": {field: errors.get(field)}},
        )

    # 2. Main product

    @get("/{funnel_id:int}/product")
    async def product(
        self,
        shop_domain: ShopDomain,
        clients: Clients,
        funnel_id: FromPath[int],
        q: FromQuery[str] = "",
        after: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "product")
        if isinstance(draft, Redirect):
            return draft
        results, search_error = await search_results(clients, shop_domain, q, after)
        return wizard_page(draft, "product", q=q, results=results, search_error=search_error)

    @get("/{funnel_id:int}/product/search")
    async def product_search(
        self,
        shop_domain: ShopDomain,
        clients: Clients,
        funnel_id: FromPath[int],
        q: FromQuery[str] = "",
        after: FromQuery[str | None] = None,
    ) -> Template:
        return await search_fragment(clients, shop_domain, funnel_id, "product", q, after)

    @get("/{funnel_id:int}/upsells/search")
    async def upsell_search(
        self,
        shop_domain: ShopDomain,
        clients: Clients,
        funnel_id: FromPath[int],
        q: FromQuery[str] = "",
        after: FromQuery[str | None] = None,
    ) -> Template:
        return await search_fragment(clients, shop_domain, funnel_id, "upsells", q, after)

    @post("/{funnel_id:int}/product", status_code=303)
    async def choose_product(
        self,
        request: AnyRequest,
        shop_domain: ShopDomain,
        clients: Clients,
        funnel_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "product")
        if isinstance(draft, Redirect):
            return draft
        choice, problem = await variant_of_shop(clients, shop_domain, form_field(data, "variant_id"))
        if choice is None:
            results, search_error = await search_results(clients, shop_domain, "", None)
            return wizard_page(
                draft,
                "product",
                errors={"variant_id": problem},
                q="",
                results=results,
                search_error=search_error,
                status_code=400,
            )
        await services.choose_main_product(shop_domain, funnel_id, choice)
        return Redirect(after_step(request, funnel_id, "upsells"), status_code=303)

    # 3. Upsells

    @get("/{funnel_id:int}/upsells")
    async def upsells(
        self,
        request: AnyRequest,
        shop_domain: ShopDomain,
        clients: Clients,
        funnel_id: FromPath[int],
        q: FromQuery[str] = "",
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "upsells")
        if isinstance(draft, Redirect):
            return draft
        # The search button submits the whole form by GET, so typed values come back here.
        values = {
            name: request.query_params.get(name, "")
            for name in ("headline", "discount_type", "discount_value")
        }
        values["discount_type"] = values["discount_type"] or "percentage"
        # Searching costs Shopify query points: the upsell list loads without one until asked.
        results, search_error = await search_results(clients, shop_domain, q, None) if q else (None, None)
        return await _upsells_page(
            draft, shop_domain, values=values, q=q, results=results, search_error=search_error
        )

    @post("/{funnel_id:int}/upsells", status_code=303)
    async def add_upsell(
        self,
        request: AnyRequest,
        shop_domain: ShopDomain,
        clients: Clients,
        funnel_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "upsells")
        if isinstance(draft, Redirect):
            return draft
        values = {name: form_field(data, name) for name in ("headline", "discount_type", "discount_value")}
        variant_id = form_field(data, "variant_id")
        choice, problem = (
            await variant_of_shop(clients, shop_domain, variant_id) if variant_id else (None, None)
        )
        errors = await services.add_upsell(shop_domain, funnel_id, values, choice)
        if problem:
            errors["variant_id"] = problem
        if errors:
            q = form_field(data, "q")
            results, search_error = await search_results(clients, shop_domain, q, None) if q else (None, None)
            draft = await load_draft(shop_domain, funnel_id)
            return await _upsells_page(
                draft,
                shop_domain,
                errors=errors,
                values=values,
                q=q,
                results=results,
                search_error=search_error,
                selected=variant_id,
                status_code=400,
            )
        return Redirect(same_step(request, funnel_id, "upsells"), status_code=303)

    @post("/{funnel_id:int}/upsells/{upsell_id:int}/remove", status_code=303)
    async def remove_upsell(
        self, request: AnyRequest, shop_domain: ShopDomain, funnel_id: FromPath[int], upsell_id: FromPath[int]
    ) -> Redirect:
        draft = await open_step(shop_domain, funnel_id, "upsells")
        if isinstance(draft, Redirect):
            return draft
        await services.remove_upsell(shop_domain, funnel_id, upsell_id)
        return Redirect(same_step(request, funnel_id, "upsells"), status_code=303)

    @post("/{funnel_id:int}/upsells/{upsell_id:int}/move", status_code=303)
    async def move_upsell(
        self,
        request: AnyRequest,
        shop_domain: ShopDomain,
        funnel_id: FromPath[int],
        upsell_id: FromPath[int],
        data: Form,
    ) -> Redirect:
        draft = await open_step(shop_domain, funnel_id, "upsells")
        if isinstance(draft, Redirect):
            return draft
        direction = "up" if form_field(data, "direction") == "up" else "down"
        await services.move_upsell(shop_domain, funnel_id, upsell_id, direction)
        return Redirect(same_step(request, funnel_id, "upsells"), status_code=303)

    @post("/{funnel_id:int}/upsells/continue", status_code=303)
    async def confirm_upsells(
        self, request: AnyRequest, shop_domain: ShopDomain, clients: Clients, funnel_id: FromPath[int]
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "upsells")
        if isinstance(draft, Redirect):
            return draft
        errors = await services.confirm_upsells(shop_domain, funnel_id)
        if errors:
            return await _upsells_page(
                draft,
                shop_domain,
                errors=errors,
                values={"discount_type": "percentage"},
                q="",
                results=None,
                search_error=None,
                status_code=400,
            )
        return Redirect(after_step(request, funnel_id, "template"), status_code=303)


async def _upsells_page(draft: FunnelDraft, shop_domain: str, **context: Any) -> Template:
    """The upsells step, with the plan's limit shown while the merchant builds, not only at publish."""
    limits = await entitlements(shop_domain)
    return wizard_page(
        draft, "upsells", plan_name=limits.plan_name, upsells_allowed=limits.upsells_per_funnel, **context
    )


async def search_fragment(
    clients: Clients, shop_domain: str, funnel_id: int, slug: str, q: str, after: str | None
) -> Template:
    """The live-search results htmx swaps in while the merchant types."""
    draft = await open_step(shop_domain, funnel_id, slug)
    if isinstance(draft, Redirect):
        raise NotFoundException()
    results, search_error = await search_results(clients, shop_domain, q, after)
    return Template(
        template_name="funnels/_search_results.html",
        context={
            "results": results,
            "search_error": search_error,
            "q": q,
            "funnel": draft.funnel,
            "chosen": draft.funnel["main_variant_id"] if slug == "product" else None,
            "mode": "main" if slug == "product" else "upsell",
        },
    )


async def variant_of_shop(
    clients: Clients, shop_domain: str, variant_id: str
) -> tuple[VariantChoice | None, str]:
    if not variant_id:
        return None, "Choose a product from your store"
    try:
        choice = await find_variant(clients, shop_domain, variant_id)
    except (ExternalServiceError, ShopNotConnected):
        return None, "We could not reach your store to check that product. Try again in a moment"
    if choice is None:
        return None, "That product is not in your store any more. Search again and choose one"
    return choice, ""
