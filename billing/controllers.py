"""The merchant's billing page: current plan and usage, upgrade, cancel."""

from __future__ import annotations

import structlog
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from billing.services import (
    BillingRefused,
    active_subscription,
    cancel_subscription,
    confirm_return,
    entitlements,
    start_subscription,
    subscribable_plans,
)
from connectors.errors import ExternalServiceError
from funnels.tables import Funnel
from iam.controllers import Iam, ShopDomain, current_shop

log = structlog.get_logger("funnelsync.billing")

OUTCOMES = {
    "active": "Your new plan is active.",
    "declined": "You declined the charge: your plan did not change.",
    "pending": "Shopify has not confirmed the charge yet. Reload this page in a moment.",
}


class BillingController(Controller):
    path = "/billing"
    dependencies = {"shop_domain": current_shop}

    async def _page(
        self,
        shop_domain: str,
        *,
        message: str | None = None,
        problem: str | None = None,
        status_code: int = 200,
    ) -> Template:
        limits = await entitlements(shop_domain)
        live = await Funnel.count().where((Funnel.shop_domain == shop_domain) & (Funnel.status == "live"))
        return Template(
            template_name="billing/billing.html",
            context={
                "limits": limits,
                "live_funnels": live,
                "subscription": await active_subscription(shop_domain),
                "plans": await subscribable_plans(),
                "message": message,
                "problem": problem,
            },
            status_code=status_code,
        )

    @get("/")
    async def show(self, shop_domain: ShopDomain, outcome: FromQuery[str | None] = None) -> Template:
        return await self._page(shop_domain, message=OUTCOMES.get(outcome or ""))

    @post("/subscribe", status_code=303)
    async def subscribe(
        self, shop_domain: ShopDomain, iam: Iam, state: State, data: URLEncodedBody[dict[str, str]]
    ) -> Redirect | Template:
        return_url = f"{iam.app_base_url}/billing/return"
        try:
            confirmation = await start_subscription(
                iam, shop_domain, str(data.get("plan", "")), return_url, test=not state.settings.is_production
            )
        except BillingRefused as refused:
            return await self._page(shop_domain, problem=str(refused), status_code=400)
        except ExternalServiceError as exc:
            log.warning("subscribe_failed", shop=shop_domain, error=str(exc))
            return await self._page(
                shop_domain, problem="Shopify did not answer. Try again in a minute.", status_code=503
            )
        return Redirect(confirmation, status_code=303)

    @get("/return")
    async def returned(self, shop_domain: ShopDomain, iam: Iam, charge_id: FromQuery[str] = "") -> Redirect:
        try:
            status = await confirm_return(iam, shop_domain, charge_id)
        except ExternalServiceError:
            status = "pending"  # the webhook will tell us
        return Redirect(f"/billing/?outcome={status or 'pending'}")

    @post("/cancel", status_code=303)
    async def cancel(self, shop_domain: ShopDomain, iam: Iam) -> Redirect | Template:
        try:
            await cancel_subscription(iam, shop_domain)
        except BillingRefused as refused:
            return await self._page(shop_domain, problem=str(refused), status_code=400)
        except ExternalServiceError:
            return await self._page(
                shop_domain, problem="Shopify did not answer. Try again in a minute.", status_code=503
            )
        return Redirect("/billing/", status_code=303)
