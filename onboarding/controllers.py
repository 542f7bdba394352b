"""The app's own pages: the landing page and the probes operators point at it."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, MediaType, Response, get, post
from litestar.datastructures import State
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from alerts.digests import email_alerts_on, set_email_alerts
from billing.services import entitlements, payment_notice
from funnels.controllers.shared import Form
from funnels.services import list_funnels
from iam.app_home import APP_HOME_STATE_KEY, is_app_home_request
from iam.controllers import AnyRequest, Iam, ShopDomain, current_shop, package_response
from iam.provisioning import setup_progress
from iam.tables import AccountStatus, AccountSystem, Shop
from lib.clock import utcnow
from onboarding.database import database_status
from sync.connection_health import connection_health


@dataclass(frozen=True)
class Probe:
    status: str
    detail: str | None = None


class HealthController(Controller):
    # Probes are polled often and carry no user data: keep them out of sessions.
    opt = {"skip_session": True}

    @get("/healthz", media_type=MediaType.JSON, sync_to_thread=False)
    def healthz(self) -> Probe:
        return Probe(status="ok")

    @get("/readyz", media_type=MediaType.JSON)
    async def readyz(self, state: State) -> Response[Probe]:
        status = await database_status(state.expected_migrations)
        if status.problem:
            return Response(Probe(status="unavailable", detail=status.problem), status_code=503)
        return Response(Probe(status="ok"))


class HomeController(Controller):
    @get("/")
    async def home(self, request: AnyRequest, state: State, iam: Iam) -> Template | Response[str]:
        if is_app_home_request(request.headers, request.query_params):
            # The app's URL opened inside the Shopify admin: its home there is the dashboard,
            # reached through the package's in-iframe redirect (it keeps the admin's parameters).
            shop_domain = await current_shop(request, iam)
            visit = request.scope["state"][APP_HOME_STATE_KEY]
            moved = iam.shopify_app.app_home_redirect(
                visit.request, "/app/", shop_domain.removesuffix(".myshopify.com")
            )
            return package_response(iam, moved.response)
        return Template(
            template_name="home.html",
            context={"shopify_sandbox_url": state.settings.shopify_sandbox_url},
        )


class DashboardController(Controller):
    path = "/app"
    dependencies = {"shop_domain": current_shop}

    @get("/")
    async def dashboard(self, shop_domain: ShopDomain, alerts_saved: FromQuery[bool] = False) -> Template:
        shop = (
            await Shop.select(Shop.name, Shop.plan_tier, Shop.connection)
            .where(Shop.domain == shop_domain)
            .first()
        )
        progress = await setup_progress(shop_domain)
        return Template(
            template_name="dashboard.html",
            context={
                "shop_domain": shop_domain,
                "shop": shop,
                "progress": progress,
                "crm_ready": any(
                    item.system == AccountSystem.CRM and item.status == AccountStatus.READY
                    for item in progress
                ),
                "setup_done": all(item.status == AccountStatus.READY for item in progress),
                "funnels": await list_funnels(shop_domain),
                "payment_notice": await payment_notice(shop_domain),
                "limits": await entitlements(shop_domain),
                "health": await connection_health(shop_domain, utcnow()),
                "email_alerts": await email_alerts_on(shop_domain),
                "alerts_saved": alerts_saved,
            },
        )

    @post("/alerts", status_code=303)
    async def save_alerts(self, shop_domain: ShopDomain, data: Form) -> Redirect:
        """Email alerts on or off: the form's one checkbox, sent only when ticked."""
        await set_email_alerts(shop_domain, "email_alerts" in data)
        return Redirect("/app/?alerts_saved=true#alerts", status_code=303)
