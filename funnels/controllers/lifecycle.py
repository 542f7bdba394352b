"""Archiving a published funnel and deleting a draft, each behind a page that says what happens."""

from __future__ import annotations

import structlog
from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from connectors.errors import ExternalServiceError
from funnels import lifecycle
from funnels.services import load_draft
from iam.controllers import Clients, ShopDomain, current_shop

log = structlog.get_logger("funnels.lifecycle")


class FunnelLifecycleController(Controller):
    path = "/funnels/{funnel_id:int}"
    dependencies = {"shop_domain": current_shop}

    @get("/archive")
    async def confirm_archive(self, shop_domain: ShopDomain, funnel_id: FromPath[int]) -> Template:
        return await _page(shop_domain, funnel_id, "funnels/archive.html")

    @post("/archive", status_code=303)
    async def archive(
        self, shop_domain: ShopDomain, clients: Clients, funnel_id: FromPath[int]
    ) -> Template | Redirect:
        try:
            await lifecycle.archive(clients, shop_domain, funnel_id)
        except lifecycle.LifecycleRefused as refused:
            return await _page(shop_domain, funnel_id, "funnels/archive.html", str(refused), 409)
        except ExternalServiceError as exc:
            log.warning("archive_failed", shop=shop_domain, funnel=funnel_id, error=str(exc))
            problem = (
                f"{exc.system} did not answer, so the funnel is not archived yet. Nothing is lost: "
                "try again in a minute."
            )
            return await _page(shop_domain, funnel_id, "funnels/archive.html", problem, 503)
        return Redirect(f"/funnels/{funnel_id}/archive", status_code=303)

    @get("/delete")
    async def confirm_delete(self, shop_domain: ShopDomain, funnel_id: FromPath[int]) -> Template:
        return await _page(shop_domain, funnel_id, "funnels/delete.html")

    @post("/delete", status_code=303)
    async def delete(self, shop_domain: ShopDomain, funnel_id: FromPath[int]) -> Template | Redirect:
        try:
            await lifecycle.delete_draft(shop_domain, funnel_id)
        except lifecycle.LifecycleRefused as refused:
            return await _page(shop_domain, funnel_id, "funnels/delete.html", str(refused), 409)
        return Redirect("/app/", status_code=303)


async def _page(
    shop_domain: str, funnel_id: int, template: str, problem: str | None = None, status_code: int = 200
) -> Template:
    draft = await load_draft(shop_domain, funnel_id)
    return Template(
        template_name=template,
        context={
            "funnel": draft.funnel,
            "problem": problem,
            "can_archive": lifecycle.can_archive(draft.funnel),
            "can_delete": lifecycle.can_delete(draft.funnel),
        },
        status_code=status_code,
    )
