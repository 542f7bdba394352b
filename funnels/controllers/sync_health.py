"""Sync health per funnel: last syncs, backlog, what failed and why, with a retry; catalog now."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from funnels.services import load_draft
from iam.controllers import ShopDomain, current_shop
from lib.clock import utcnow
from sync import activity
from sync.catalog_import import schedule_catalog_import
from sync.reconciliation import schedule_reconciliation


class FunnelSyncHealthController(Controller):
    path = "/funnels/{funnel_id:int}/sync"
    dependencies = {"shop_domain": current_shop}

    @get("/")
    async def show(
        self, shop_domain: ShopDomain, funnel_id: FromPath[int], notice: FromQuery[str | None] = None
    ) -> Template:
        draft = await load_draft(shop_domain, funnel_id)
        now = utcnow()
        return Template(
            template_name="funnels/sync_health.html",
            context={
                "funnel": draft.funnel,
                "health": await activity.sync_health(shop_domain, now),
                "now": now,
                "notice": NOTICES.get(notice or ""),
                "entity_labels": activity.ENTITY_LABELS,
                "direction_labels": activity.DIRECTION_LABELS,
            },
        )

    @post("/failures/{activity_id:int}/retry", status_code=303)
    async def retry(
        self, shop_domain: ShopDomain, funnel_id: FromPath[int], activity_id: FromPath[int], state: State
    ) -> Redirect:
        retried = await activity.retry_failure(shop_domain, activity_id)
        if not retried:
            raise NotFoundException()
        state.worker.wake()
        return Redirect(f"/funnels/{funnel_id}/sync/?notice=retrying", status_code=303)

    @post("/catalog", status_code=303)
    async def sync_catalog_now(
        self, shop_domain: ShopDomain, funnel_id: FromPath[int], state: State
    ) -> Redirect:
        await schedule_catalog_import(shop_domain)
        state.worker.wake()
        return Redirect(f"/funnels/{funnel_id}/sync/?notice=catalog", status_code=303)

    @post("/reconcile", status_code=303)
    async def reconcile_now(
        self, shop_domain: ShopDomain, funnel_id: FromPath[int], state: State
    ) -> Redirect:
        await schedule_reconciliation(shop_domain)
        state.worker.wake()
        return Redirect(f"/funnels/{funnel_id}/sync/?notice=reconcile", status_code=303)


NOTICES = {
    "retrying": "Trying again now. The result appears here in a moment.",
    "catalog": "Your catalog is being sent to the CRM now.",
    "reconcile": "Both sides are being compared now. What was repaired appears below.",
}
