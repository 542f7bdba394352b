"""Admin: the audit log of every admin action."""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from admin.pages import AdminEmail, AdminPages, admin_page
from iam.admin import audit_log


class AdminAuditController(AdminPages):
    @get("/audit")
    async def audit(self, admin: AdminEmail) -> Template:
        return admin_page("audit", admin, entries=await audit_log())
