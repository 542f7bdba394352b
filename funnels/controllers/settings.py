"""Funnel settings: Fulfilled by CRM, Keep Products Synchronized, Keep Orders Synchronized."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from funnels import services
from funnels.controllers.shared import AnyRequest, Form, form_field
from funnels.services import load_draft
from iam.controllers import ShopDomain, current_shop


class FunnelSettingsController(Controller):
    """Fulfilled by CRM, Keep Products Synchronized, Keep Orders Synchronized: saved on change."""

    path = "/funnels/{funnel_id:int}/settings"
    dependencies = {"shop_domain": current_shop}

    @get("/")
    async def show(
        self, shop_domain: ShopDomain, funnel_id: FromPath[int], saved: FromQuery[bool] = False
    ) -> Template:
        draft = await load_draft(shop_domain, funnel_id)
        return Template(
            template_name="funnels/settings.html",
            context={"funnel": draft.funnel, "saved": saved, "settings": SETTING_LABELS},
        )

    @post("/", status_code=303)
    async def save(
        self, request: AnyRequest, shop_domain: ShopDomain, funnel_id: FromPath[int], data: Form
    ) -> Template | Redirect:
        await load_draft(shop_domain, funnel_id)
        if "setting" in data:  # htmx: one switch changed; the form's ticked boxes come along
            name = form_field(data, "setting")
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
