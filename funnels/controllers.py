"""The funnel wizard: one page per step, plain forms first, htmx on top."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import structlog
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from billing.services import entitlements
from connectors.crm import PaymentProcessor
from connectors.errors import ExternalServiceError
from connectors.templates import FunnelTemplate
from funnels import services
from funnels.catalog import SearchPage, VariantChoice, find_variant, search_catalog
from funnels.publish import PublishBlocked, publish_progress, retry_publish, start_publish
from funnels.services import FunnelDraft, FunnelNotFound, load_draft
from funnels.tables import Funnel, FunnelStatus, HostKind
from funnels.validation import COUNTRIES, CURRENCIES, DISCOUNT_TYPES, Errors, campaign_errors, subdomain_error
from funnels.wizard import STEP_SLUGS, STEPS, title_of
from iam.clients import ShopClients
from iam.controllers import Iam, ShopDomain, current_shop
from iam.errors import AccountNotReady
from iam.tokens import ShopNotConnected

log = structlog.get_logger("funnels.wizard")
Form = URLEncodedBody[dict[str, str]]
AnyRequest = Request[Any, Any, State]


def _field(form: dict[str, str], name: str) -> str:
    return str(form.get(name, "")).strip()


def step_url(funnel_id: int, slug: str) -> str:
    return f"/funnels/{funnel_id}/{slug}"


def wizard_page(
    draft: FunnelDraft,
    slug: str,
    *,
    errors: Errors | None = None,
    status_code: int = 200,
    **context: Any,
) -> Template:
    return Template(
        template_name=f"funnels/{slug}.html",
        context={
            "draft": draft,
            "funnel": draft.funnel,
            "upsells": draft.upsells,
            "steps": STEPS,
            "current": slug,
            "step_title": title_of(slug),
            "step_number": STEP_SLUGS.index(slug) + 1,
            "errors": errors or {},
            "currencies": CURRENCIES,
            "countries": COUNTRIES,
            "discount_types": DISCOUNT_TYPES,
            **context,
        },
        status_code=status_code,
    )


async def open_step(shop_domain: str, funnel_id: int, slug: str) -> FunnelDraft | Redirect:
    """The draft when the step may be shown; otherwise a redirect to the first unfinished step."""
    try:
        draft = await load_draft(shop_domain, funnel_id)
    except FunnelNotFound:
        raise NotFoundException() from None
    if not draft.can_open(slug):
        return Redirect(step_url(funnel_id, draft.next_step))
    return draft


async def _search(
    iam: Iam, shop_domain: str, text: str, after: str | None
) -> tuple[SearchPage | None, str | None]:
    try:
        return await search_catalog(ShopClients(iam), shop_domain, text, after), None
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
        try:
            draft = await load_draft(shop_domain, funnel_id)
        except FunnelNotFound:
            raise NotFoundException() from None
        return Redirect(step_url(funnel_id, draft.next_step))

    # 1. Campaign information

    @get("/{funnel_id:int}/campaign")
    async def campaign(self, shop_domain: ShopDomain, funnel_id: FromPath[int]) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "campaign")
        if isinstance(draft, Redirect):
            return draft
        return wizard_page(draft, "campaign", values=draft.funnel)

    @post("/{funnel_id:int}/campaign", status_code=303)
    async def save_campaign(
        self, shop_domain: ShopDomain, funnel_id: FromPath[int], data: Form
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "campaign")
        if isinstance(draft, Redirect):
            return draft
        values = {name: _field(data, name) for name in ("name", "description", "currency", "country")}
        errors = await services.save_campaign(shop_domain, funnel_id, values)
        if errors:
            return wizard_page(draft, "campaign", errors=errors, values=values, status_code=400)
        return Redirect(step_url(funnel_id, "product"), status_code=303)

    @post("/{funnel_id:int}/campaign/check", status_code=200)
    async def check_campaign_field(
        self, shop_domain: ShopDomain, funnel_id: FromPath[int], data: Form
    ) -> Template:
        """Inline validation: the message for one field, from the same rules as saving."""
        await _draft_or_404(shop_domain, funnel_id)
        field = _field(data, "field")
        errors = campaign_errors(
            _field(data, "name"),
            _field(data, "description"),
            _field(data, "currency"),
            _field(data, "country"),
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
        iam: Iam,
        funnel_id: FromPath[int],
        q: FromQuery[str] = "",
        after: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "product")
        if isinstance(draft, Redirect):
            return draft
        results, search_error = await _search(iam, shop_domain, q, after)
        return wizard_page(draft, "product", q=q, results=results, search_error=search_error)

    @get("/{funnel_id:int}/product/search")
    async def product_search(
        self,
        shop_domain: ShopDomain,
        iam: Iam,
        funnel_id: FromPath[int],
        q: FromQuery[str] = "",
        after: FromQuery[str | None] = None,
    ) -> Template:
        return await search_fragment(iam, shop_domain, funnel_id, "product", q, after)

    @get("/{funnel_id:int}/upsells/search")
    async def upsell_search(
        self,
        shop_domain: ShopDomain,
        iam: Iam,
        funnel_id: FromPath[int],
        q: FromQuery[str] = "",
        after: FromQuery[str | None] = None,
    ) -> Template:
        return await search_fragment(iam, shop_domain, funnel_id, "upsells", q, after)

    @post("/{funnel_id:int}/product", status_code=303)
    async def choose_product(
        self, shop_domain: ShopDomain, iam: Iam, funnel_id: FromPath[int], data: Form
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "product")
        if isinstance(draft, Redirect):
            return draft
        choice, problem = await _variant_of_shop(iam, shop_domain, _field(data, "variant_id"))
        if choice is None:
            results, search_error = await _search(iam, shop_domain, "", None)
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
        return Redirect(step_url(funnel_id, "upsells"), status_code=303)

    # 3. Upsells

    @get("/{funnel_id:int}/upsells")
    async def upsells(
        self,
        request: AnyRequest,
        shop_domain: ShopDomain,
        iam: Iam,
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
        results, search_error = await _search(iam, shop_domain, q, None) if q else (None, None)
        return wizard_page(draft, "upsells", values=values, q=q, results=results, search_error=search_error)

    @post("/{funnel_id:int}/upsells", status_code=303)
    async def add_upsell(
        self, shop_domain: ShopDomain, iam: Iam, funnel_id: FromPath[int], data: Form
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "upsells")
        if isinstance(draft, Redirect):
            return draft
        values = {name: _field(data, name) for name in ("headline", "discount_type", "discount_value")}
        variant_id = _field(data, "variant_id")
        choice, problem = await _variant_of_shop(iam, shop_domain, variant_id) if variant_id else (None, None)
        errors = await services.add_upsell(shop_domain, funnel_id, values, choice)
        if problem:
            errors["variant_id"] = problem
        if errors:
            q = _field(data, "q")
            results, search_error = await _search(iam, shop_domain, q, None) if q else (None, None)
            draft = await load_draft(shop_domain, funnel_id)
            return wizard_page(
                draft,
                "upsells",
                errors=errors,
                values=values,
                q=q,
                results=results,
                search_error=search_error,
                selected=variant_id,
                status_code=400,
            )
        return Redirect(step_url(funnel_id, "upsells"), status_code=303)

    @post("/{funnel_id:int}/upsells/{upsell_id:int}/remove", status_code=303)
    async def remove_upsell(
        self, shop_domain: ShopDomain, funnel_id: FromPath[int], upsell_id: FromPath[int]
    ) -> Redirect:
        await _or_404(services.remove_upsell(shop_domain, funnel_id, upsell_id))
        return Redirect(step_url(funnel_id, "upsells"), status_code=303)

    @post("/{funnel_id:int}/upsells/{upsell_id:int}/move", status_code=303)
    async def move_upsell(
        self, shop_domain: ShopDomain, funnel_id: FromPath[int], upsell_id: FromPath[int], data: Form
    ) -> Redirect:
        direction = "up" if _field(data, "direction") == "up" else "down"
        await _or_404(services.move_upsell(shop_domain, funnel_id, upsell_id, direction))
        return Redirect(step_url(funnel_id, "upsells"), status_code=303)

    @post("/{funnel_id:int}/upsells/continue", status_code=303)
    async def confirm_upsells(
        self, shop_domain: ShopDomain, iam: Iam, funnel_id: FromPath[int]
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "upsells")
        if isinstance(draft, Redirect):
            return draft
        errors = await services.confirm_upsells(shop_domain, funnel_id)
        if errors:
            return wizard_page(
                draft,
                "upsells",
                errors=errors,
                values={"discount_type": "percentage"},
                q="",
                results=None,
                search_error=None,
                status_code=400,
            )
        return Redirect(step_url(funnel_id, "template"), status_code=303)


class FunnelPublishingController(Controller):
    """Steps 4 to 6 (template, hosting, check answers) and the publish progress."""

    path = "/funnels"
    dependencies = {"shop_domain": current_shop}

    # 4. Template

    @get("/{funnel_id:int}/template")
    async def template(
        self, shop_domain: ShopDomain, iam: Iam, funnel_id: FromPath[int]
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "template")
        if isinstance(draft, Redirect):
            return draft
        templates, problem = await _templates(iam, shop_domain)
        return wizard_page(
            draft,
            "template",
            templates=templates,
            service_error=problem,
            selected=draft.funnel["template_id"],
        )

    @post("/{funnel_id:int}/template", status_code=303)
    async def choose_template(
        self, shop_domain: ShopDomain, iam: Iam, funnel_id: FromPath[int], data: Form
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "template")
        if isinstance(draft, Redirect):
            return draft
        templates, problem = await _templates(iam, shop_domain)
        chosen = next((item for item in templates if item.id == _field(data, "template_id")), None)
        if chosen is None:
            errors = {"template_id": problem or "Choose one of the templates below"}
            return wizard_page(
                draft,
                "template",
                errors=errors,
                templates=templates,
                service_error=problem,
                selected=None,
                status_code=400,
            )
        await services.choose_template(shop_domain, funnel_id, chosen.id, chosen.name)
        return Redirect(step_url(funnel_id, "hosting"), status_code=303)

    # 5. Hosting

    @get("/{funnel_id:int}/hosting")
    async def hosting(
        self, shop_domain: ShopDomain, iam: Iam, funnel_id: FromPath[int]
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "hosting")
        if isinstance(draft, Redirect):
            return draft
        values = {
            "host_kind": draft.funnel["host_kind"] or "subdomain",
            "subdomain": draft.funnel["subdomain"] or "",
            "custom_domain": draft.funnel["custom_domain"] or "",
        }
        return wizard_page(draft, "hosting", values=values, site_host=_site_host(iam))

    @get("/{funnel_id:int}/hosting/check")
    async def check_subdomain(
        self, shop_domain: ShopDomain, iam: Iam, funnel_id: FromPath[int], subdomain: FromQuery[str] = ""
    ) -> Template:
        await _draft_or_404(shop_domain, funnel_id)
        name = subdomain.strip().lower()
        problem = subdomain_error(name) or await _subdomain_taken(iam, shop_domain, name)
        return Template(
            template_name="funnels/_subdomain_check.html",
            context={"name": name, "problem": problem, "site_host": _site_host(iam)},
        )

    @post("/{funnel_id:int}/hosting", status_code=303)
    async def choose_hosting(
        self, shop_domain: ShopDomain, iam: Iam, funnel_id: FromPath[int], data: Form
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "hosting")
        if isinstance(draft, Redirect):
            return draft
        values = {
            "host_kind": _field(data, "host_kind"),
            "subdomain": _field(data, "subdomain").lower(),
            "custom_domain": _field(data, "custom_domain").lower(),
        }
        errors = services.hosting_errors(values["host_kind"], values["subdomain"], values["custom_domain"])
        if (
            not errors
            and values["host_kind"] == HostKind.SUBDOMAIN
            and values["subdomain"] != draft.funnel["subdomain"]
        ):
            taken = await _subdomain_taken(iam, shop_domain, values["subdomain"])
            if taken:
                errors["subdomain"] = taken
        if errors:
            return wizard_page(
                draft, "hosting", errors=errors, values=values, site_host=_site_host(iam), status_code=400
            )
        await services.choose_hosting(
            shop_domain, funnel_id, values["host_kind"], values["subdomain"], values["custom_domain"]
        )
        return Redirect(step_url(funnel_id, "review"), status_code=303)

    # 6. Check answers and publish

    @get("/{funnel_id:int}/review")
    async def review(
        self, shop_domain: ShopDomain, iam: Iam, funnel_id: FromPath[int]
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "review")
        if isinstance(draft, Redirect):
            return draft
        processors, problem = await _processors(iam, shop_domain)
        return wizard_page(
            draft, "review", processors=processors, processor_error=problem, site_host=_site_host(iam)
        )

    @post("/{funnel_id:int}/publish", status_code=303)
    async def publish(
        self, shop_domain: ShopDomain, iam: Iam, funnel_id: FromPath[int], state: State
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "review")
        if isinstance(draft, Redirect):
            return draft
        processors, problem = await _processors(iam, shop_domain)
        refusal = await _over_plan_limits(shop_domain, draft)
        if refusal is None and not any(processor.active for processor in processors):
            refusal = {
                "payment_processors": problem or "Add a payment processor in the CRM before you publish"
            }
        if refusal is None:
            try:
                await start_publish(shop_domain, funnel_id)
            except PublishBlocked as blocked:
                refusal = {"publish": str(blocked)}
        if refusal:
            return wizard_page(
                draft,
                "review",
                errors=refusal,
                processors=processors,
                processor_error=problem,
                site_host=_site_host(iam),
                status_code=400,
            )
        state.worker.wake()
        return Redirect(f"/funnels/{funnel_id}/publishing", status_code=303)

    @get("/{funnel_id:int}/publishing")
    async def publishing(self, shop_domain: ShopDomain, funnel_id: FromPath[int]) -> Template:
        draft = await _draft_or_404(shop_domain, funnel_id)
        return Template(template_name="funnels/publishing.html", context=await _progress_context(draft))

    @get("/{funnel_id:int}/publishing/progress")
    async def publishing_progress(self, shop_domain: ShopDomain, funnel_id: FromPath[int]) -> Template:
        draft = await _draft_or_404(shop_domain, funnel_id)
        return Template(
            template_name="funnels/_publish_progress.html", context=await _progress_context(draft)
        )

    @post("/{funnel_id:int}/publishing/retry", status_code=303)
    async def retry(self, shop_domain: ShopDomain, funnel_id: FromPath[int], state: State) -> Redirect:
        await _or_404(retry_publish(shop_domain, funnel_id))
        state.worker.wake()
        return Redirect(f"/funnels/{funnel_id}/publishing", status_code=303)


async def _over_plan_limits(shop_domain: str, draft: FunnelDraft) -> Errors | None:
    """Checked on the server at publish: live funnels and upsells per funnel of the shop's plan."""
    limits = await entitlements(shop_domain)
    live_elsewhere = await Funnel.count().where(
        (Funnel.shop_domain == shop_domain) & (Funnel.status == FunnelStatus.LIVE) & (Funnel.id != draft.id)
    )
    if live_elsewhere >= limits.live_funnels:
        return {
            "plan": f"Your {limits.plan_name} plan allows {limits.live_funnels} live funnel(s). "
            "Upgrade on the Billing page to publish another."
        }
    if len(draft.upsells) > limits.upsells_per_funnel:
        return {
            "plan": f"Your {limits.plan_name} plan allows {limits.upsells_per_funnel} upsell(s) per funnel. "
            "Remove some or upgrade on the Billing page."
        }
    return None


async def _progress_context(draft: FunnelDraft) -> dict[str, Any]:
    steps = await publish_progress(draft.id)
    return {"funnel": draft.funnel, "publish_steps": steps, "status": draft.funnel["status"]}


def _site_host(iam: Iam) -> str:
    """Where subdomain sites live, shown to the merchant (the template service's host)."""
    return urlsplit(iam.templates.base_url).netloc


async def _templates(iam: Iam, shop_domain: str) -> tuple[list[FunnelTemplate], str | None]:
    try:
        templates = await ShopClients(iam).templates_for(shop_domain)
        return await templates.templates(), None
    except AccountNotReady:
        return [], "Your page builder account is still being set up. Reload this page in a moment."
    except ExternalServiceError as exc:
        log.warning("templates_unavailable", shop=shop_domain, error=str(exc))
        return [], "The page builder did not answer. Reload this page in a moment."


async def _subdomain_taken(iam: Iam, shop_domain: str, name: str) -> str | None:
    try:
        templates = await ShopClients(iam).templates_for(shop_domain)
        check = await templates.check_subdomain(name)
    except (ExternalServiceError, AccountNotReady):
        return "We could not check that subdomain just now. Try again in a moment"
    if check.available or check.reason == "yours":  # this merchant's own site holds it
        return None
    return (
        f"{name} is already taken ({check.reason}). Try another"
        if check.reason
        else f"{name} is already taken. Try another"
    )


async def _processors(iam: Iam, shop_domain: str) -> tuple[list[PaymentProcessor], str | None]:
    try:
        crm = await ShopClients(iam).crm_for(shop_domain)
        return await crm.payment_processors(), None
    except (ExternalServiceError, AccountNotReady):
        return [], "We could not read your payment processors from the CRM just now"


class FunnelSettingsController(Controller):
    """Fulfilled by CRM, Keep Products Synchronized, Keep Orders Synchronized: saved on change."""

    path = "/funnels/{funnel_id:int}/settings"
    dependencies = {"shop_domain": current_shop}

    @get("/")
    async def show(
        self, shop_domain: ShopDomain, funnel_id: FromPath[int], saved: FromQuery[bool] = False
    ) -> Template:
        draft = await _draft_or_404(shop_domain, funnel_id)
        return Template(
            template_name="funnels/settings.html",
            context={"funnel": draft.funnel, "saved": saved, "settings": SETTING_LABELS},
        )

    @post("/", status_code=303)
    async def save(
        self, request: AnyRequest, shop_domain: ShopDomain, funnel_id: FromPath[int], data: Form
    ) -> Template | Redirect:
        await _draft_or_404(shop_domain, funnel_id)
        if "setting" in data:  # htmx: one switch changed; the form's ticked boxes come along
            name = _field(data, "setting")
            if name not in SETTING_LABELS:
                return Template(
                    template_name="funnels/_setting_saved.html", context={"error": True}, status_code=400
                )
            enabled = name in data
            await services.update_setting(shop_domain, funnel_id, name, enabled)
            return Template(
                template_name="funnels/_setting_saved.html",
                context={"label": SETTING_LABELS[name], "enabled": enabled, "error": False},
            )
        for name in SETTING_LABELS:  # the plain form: a checkbox is sent only when ticked
            await services.update_setting(shop_domain, funnel_id, name, name in data)
        return Redirect(f"/funnels/{funnel_id}/settings?saved=true", status_code=303)


SETTING_LABELS = {
    "fulfilled_by_crm": "Fulfilled by CRM",
    "keep_products_synced": "Keep Products Synchronized",
    "keep_orders_synced": "Keep Orders Synchronized",
}


async def _draft_or_404(shop_domain: str, funnel_id: int) -> FunnelDraft:
    try:
        return await load_draft(shop_domain, funnel_id)
    except FunnelNotFound:
        raise NotFoundException() from None


async def search_fragment(
    iam: Iam, shop_domain: str, funnel_id: int, slug: str, q: str, after: str | None
) -> Template:
    """The live-search results htmx swaps in while the merchant types."""
    draft = await open_step(shop_domain, funnel_id, slug)
    if isinstance(draft, Redirect):
        raise NotFoundException()
    results, search_error = await _search(iam, shop_domain, q, after)
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


async def _or_404(work: Any) -> None:
    try:
        await work
    except FunnelNotFound:
        raise NotFoundException() from None


async def _variant_of_shop(iam: Iam, shop_domain: str, variant_id: str) -> tuple[VariantChoice | None, str]:
    if not variant_id:
        return None, "Choose a product from your store"
    try:
        choice = await find_variant(ShopClients(iam), shop_domain, variant_id)
    except (ExternalServiceError, ShopNotConnected):
        return None, "We could not reach your store to check that product. Try again in a moment"
    if choice is None:
        return None, "That product is not in your store any more. Search again and choose one"
    return choice, ""
