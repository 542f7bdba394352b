"""Admin: every shop with its plan, subscription state and funnels."""

from __future__ import annotations

from litestar import get
from litestar.response import Template
from piccolo.query.functions.aggregate import Count

from admin.pages import AdminEmail, AdminPages, admin_page
from billing.services import current_subscriptions_by_shop
from funnels.tables import Funnel
from iam.tables import Shop
from lib.clock import utcnow


class AdminShopsController(AdminPages):
    @get("/shops")
    async def shops(self, admin: AdminEmail) -> Template:
        rows = await Shop.select(
            Shop.domain, Shop.name, Shop.plan_tier, Shop.connection, Shop.installed_at, Shop.uninstalled_at
        ).order_by(Shop.domain)
        funnels: dict[str, dict[str, int]] = {}
        for row in await Funnel.select(
            Funnel.shop_domain, Funnel.status, Count(Funnel.id, alias="n")
        ).group_by(Funnel.shop_domain, Funnel.status):
            funnels.setdefault(row["shop_domain"], {})[row["status"]] = int(row["n"])
        return admin_page(
            "shops",
            admin,
            shops=rows,
            subscriptions=await current_subscriptions_by_shop(),
            funnels=funnels,
            now=utcnow(),
        )
