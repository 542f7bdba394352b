"""The upsells step's downsell page: the one offer shown when a shopper declines an upsell."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from funnels import services
from funnels.controllers.shared import AnyRequest, Form, form_field, open_step, same_step, wizard_page
from funnels.controllers.wizard import search_results, variant_of_shop
from funnels.services import FunnelDraft
from iam.controllers import Clients, ShopDomain, current_shop

DOWNSELL_TITLE = "Downsell (optional)"
DOWNSELL_FIELDS = ("headline", "discount_type", "discount_value")


def _downsell_page(draft: FunnelDraft, **context: Any) -> Template:
    return wizard_page(draft, "upsells", page="downsell", page_title=DOWNSELL_TITLE, **context)


class DownsellController(Controller):
    path = "/funnels/{funnel_id:int}/downsell"
    dependencies = {"shop_domain": current_shop}

    @get("/")
    async def show(
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
        saved = draft.downsell or {}
        # The search button submits the whole form by GET: typed values come back in the query.
        values = {
            name: request.query_params.get(name, str(saved.get(name) or "")) for name in DOWNSELL_FIELDS
        }
        values["discount_type"] = values["discount_type"] or "percentage"
        results, search_error = await search_results(clients, shop_domain, q) if q else (None, None)
        return _downsell_page(
            draft,
            values=values,
            q=q,
            results=results,
            search_error=search_error,
            selected=request.query_params.get("variant_id", saved.get("variant_id")),
        )

    @post("/", status_code=303)
    async def save(
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
        values = {name: form_field(data, name) for name in DOWNSELL_FIELDS}
        variant_id = form_field(data, "variant_id")
        choice, problem = (
            await variant_of_shop(clients, shop_domain, variant_id) if variant_id else (None, None)
        )
        errors = await services.save_downsell(shop_domain, funnel_id, values, choice)
        if problem:
            errors["variant_id"] = problem
        if errors:
            q = form_field(data, "q")
            results, search_error = await search_results(clients, shop_domain, q) if q else (None, None)
            return _downsell_page(
                draft,
                errors=errors,
                values=values,
                q=q,
                results=results,
                search_error=search_error,
                selected=variant_id,
                status_code=400,
            )
        return Redirect(same_step(request, funnel_id, "upsells"), status_code=303)

    @post("/remove", status_code=303)
    async def remove(
        self, request: AnyRequest, shop_domain: ShopDomain, funnel_id: FromPath[int]
    ) -> Redirect:
        draft = await open_step(shop_domain, funnel_id, "upsells")
        if isinstance(draft, Redirect):
            return draft
        await services.remove_downsell(shop_domain, funnel_id)
        return Redirect(same_step(request, funnel_id, "upsells"), status_code=303)
