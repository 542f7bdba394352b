"""Admin: every subscription, whichever provider charges it."""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from admin.pages import AdminEmail, AdminPages, admin_page
from billing.services import list_subscriptions
from lib.clock import utcnow


class AdminSubscriptionsController(AdminPages):
    @get("/subscriptions")
    async def subscriptions(self, admin: AdminEmail) -> Template:
        return admin_page("subscriptions", admin, subscriptions=await list_subscriptions(), now=utcnow())
