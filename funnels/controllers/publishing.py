"""The funnel wizard's last steps (template, hosting, check answers) and the publish progress."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import structlog
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from billing.returns import outcome_message
from connectors.crm import PaymentProcessor
from connectors.errors import ExternalServiceError
from connectors.templates import FunnelTemplate
from funnels import services
from funnels.controllers.shared import (
    AnyRequest,
    Form,
    after_step,
    form_field,
    open_step,
    step_url,
    wizard_page,
)
from funnels.livepage import page_address, review_of
from funnels.publish import publish_progress, request_publish, retry_publish
from funnels.services import FunnelDraft, load_draft
from funnels.tables import HostKind
from funnels.validation import subdomain_error
from iam.controllers import Clients, ShopDomain, current_shop

log = structlog.get_logger("funnels.wizard")


class FunnelPublishingController(Controller):
    """Steps 4 to 6 (template, hosting, check answers) and the publish progress."""

    path = "/funnels"
    dependencies = {"shop_domain": current_shop}

    # 4. Template

    @get("/{funnel_id:int}/template")
    async def template(
        self, shop_domain: ShopDomain, clients: Clients, funnel_id: FromPath[int]
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "template")
        if isinstance(draft, Redirect):
            return draft
        templates, problem = await page_templates(clients, shop_domain)
        return wizard_page(
            draft,
            "template",
            templates=templates,
            service_error=problem,
            selected=draft.funnel["template_id"],
        )

    @post("/{funnel_id:int}/template", status_code=303)
    async def choose_template(
        self,
        request: AnyRequest,
        shop_domain: ShopDomain,
        clients: Clients,
        funnel_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "template")
        if isinstance(draft, Redirect):
            return draft
        templates, problem = await page_templates(clients, shop_domain)
        chosen = next((item for item in templates if item.id == form_field(data, "template_id")), None)
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
        return Redirect(after_step(request, funnel_id, "hosting"), status_code=303)

    # 5. Hosting

    @get("/{funnel_id:int}/hosting")
    async def hosting(
        self, shop_domain: ShopDomain, clients: Clients, funnel_id: FromPath[int]
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "hosting")
        if isinstance(draft, Redirect):
            return draft
        values = {
            "host_kind": draft.funnel["host_kind"] or "subdomain",
            "subdomain": draft.funnel["subdomain"] or "",
            "custom_domain": draft.funnel["custom_domain"] or "",
        }
        return wizard_page(draft, "hosting", values=values, site_host=_site_host(clients))

    @get("/{funnel_id:int}/hosting/check")
    async def check_subdomain(
        self,
        shop_domain: ShopDomain,
        clients: Clients,
        funnel_id: FromPath[int],
        subdomain: FromQuery[str] = "",
    ) -> Template:
        await load_draft(shop_domain, funnel_id)
        name = subdomain.strip().lower()
        problem, url = subdomain_error(name), None
        if problem is None:
            problem, url = await _subdomain_check(clients, shop_domain, name)
        return Template(
            template_name="funnels/_subdomain_check.html",
            context={"name": name, "problem": problem, "url": url},
        )

    @post("/{funnel_id:int}/hosting", status_code=303)
    async def choose_hosting(
        self, shop_domain: ShopDomain, clients: Clients, funnel_id: FromPath[int], data: Form
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "hosting")
        if isinstance(draft, Redirect):
            return draft
        values = {
            "host_kind": form_field(data, "host_kind"),
            "subdomain": form_field(data, "subdomain").lower(),
            "custom_domain": form_field(data, "custom_domain").lower(),
        }
        errors = services.hosting_errors(values["host_kind"], values["subdomain"], values["custom_domain"])
        if (
            not errors
            and values["host_kind"] == HostKind.SUBDOMAIN
            and values["subdomain"] != draft.funnel["subdomain"]
        ):
            taken, _ = await _subdomain_check(clients, shop_domain, values["subdomain"])
            if taken:
                errors["subdomain"] = taken
        if errors:
            return wizard_page(
                draft, "hosting", errors=errors, values=values, site_host=_site_host(clients), status_code=400
            )
        await services.choose_hosting(
            shop_domain, funnel_id, values["host_kind"], values["subdomain"], values["custom_domain"]
        )
        return Redirect(step_url(funnel_id, "review"), status_code=303)

    # 6. Check answers and publish

    @get("/{funnel_id:int}/review")
    async def review(
        self,
        shop_domain: ShopDomain,
        clients: Clients,
        funnel_id: FromPath[int],
        billing: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        """`billing`: back from a plan change started here (billing.returns), said on the page."""
        draft = await open_step(shop_domain, funnel_id, "review")
        if isinstance(draft, Redirect):
            return draft
        processors, problem = await _processors(clients, shop_domain)
        return wizard_page(
            draft,
            "review",
            processors=processors,
            processor_error=problem,
            review=await review_of(clients, shop_domain, draft),
            address=await page_address(clients, shop_domain, draft.funnel),
            billing_message=outcome_message(billing),
        )

    @post("/{funnel_id:int}/publish", status_code=303)
    async def publish(
        self, shop_domain: ShopDomain, clients: Clients, funnel_id: FromPath[int], state: State
    ) -> Template | Redirect:
        draft = await open_step(shop_domain, funnel_id, "review")
        if isinstance(draft, Redirect):
            return draft
        processors, problem = await _processors(clients, shop_domain)
        review = await review_of(clients, shop_domain, draft)
        refusal = await request_publish(shop_domain, draft, processors, problem, review.currency_problem)
        if refusal:
            return wizard_page(
                draft,
                "review",
                errors=refusal,
                processors=processors,
                processor_error=problem,
                review=review,
                address=await page_address(clients, shop_domain, draft.funnel),
                status_code=400,
            )
        state.worker.wake()
        return Redirect(f"/funnels/{funnel_id}/publishing", status_code=303)

    @get("/{funnel_id:int}/publishing")
    async def publishing(self, shop_domain: ShopDomain, funnel_id: FromPath[int]) -> Template:
        draft = await load_draft(shop_domain, funnel_id)
        return Template(template_name="funnels/publishing.html", context=await _progress_context(draft))

    @get("/{funnel_id:int}/publishing/progress")
    async def publishing_progress(self, shop_domain: ShopDomain, funnel_id: FromPath[int]) -> Template:
        draft = await load_draft(shop_domain, funnel_id)
        return Template(
            template_name="funnels/_publish_progress.html",
            context={**await _progress_context(draft), "fragment": True},
        )

    @post("/{funnel_id:int}/publishing/retry", status_code=303)
    async def retry(self, shop_domain: ShopDomain, funnel_id: FromPath[int], state: State) -> Redirect:
        await retry_publish(shop_domain, funnel_id)
        state.worker.wake()
        return Redirect(f"/funnels/{funnel_id}/publishing", status_code=303)


async def _progress_context(draft: FunnelDraft) -> dict[str, Any]:
    steps = await publish_progress(draft.id)
    return {"funnel": draft.funnel, "publish_steps": steps, "status": draft.funnel["status"]}


def _site_host(clients: Clients) -> str:
    """Where subdomain sites live, shown to the merchant (the template service's host)."""
    return urlsplit(clients.iam.templates.base_url).netloc


async def page_templates(clients: Clients, shop_domain: str) -> tuple[list[FunnelTemplate], str | None]:
    try:
        templates = await clients.templates_for(shop_domain)
        return await templates.templates(), None
    except ExternalServiceError as exc:
        log.warning("templates_unavailable", shop=shop_domain, error=str(exc))
        return [], "The page builder did not answer. Reload this page in a moment."


async def _subdomain_check(clients: Clients, shop_domain: str, name: str) -> tuple[str | None, str | None]:
    """Why the subdomain cannot be had (None when it can) and the address the page builder
    gives a page on it."""
    try:
        templates = await clients.templates_for(shop_domain)
        check = await templates.check_subdomain(name)
    except ExternalServiceError:
        return "We could not check that subdomain just now. Try again in a moment", None
    if check.available or check.reason == "yours":  # this merchant's own site holds it
        return None, check.url
    if check.reason == "reserved":
        return f"{name} is reserved by the page service. Try another", None
    return f"{name} is already taken. Try another", None


async def _processors(clients: Clients, shop_domain: str) -> tuple[list[PaymentProcessor], str | None]:
    try:
        crm = await clients.crm_for(shop_domain)
        return await crm.payment_processors(), None
    except ExternalServiceError:
        return [], "We could not read your payment processors from the CRM just now"
