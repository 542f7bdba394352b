"""Admin: sync health of every shop and the failures to look at."""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from admin.pages import AdminEmail, AdminPages, admin_page
from lib.clock import utcnow
from sync.activity import DIRECTION_LABELS, ENTITY_LABELS, sync_overview


class AdminSyncController(AdminPages):
    @get("/sync")
    async def sync(self, admin: AdminEmail) -> Template:
        now = utcnow()
        shops, failures = await sync_overview(now)
        return admin_page(
            "sync",
            admin,
            shops=shops,
            failures=failures,
            now=now,
            entity_labels=ENTITY_LABELS,
            direction_labels=DIRECTION_LABELS,
        )
