"""The admin area: its own users and sessions, plans, shops, subscriptions, sync, dead letters and
the audit log, one module per page group."""

from __future__ import annotations

from litestar import Router

from admin.audit import AdminAuditController
from admin.dead_letters import AdminDeadLettersController
from admin.plans import AdminPlansController
from admin.shops import AdminShopsController
from admin.sign_in import AdminLoginController
from admin.subscriptions import AdminSubscriptionsController
from admin.sync_overview import AdminSyncController
from iam.sessions import RotatingSessionConfig

ADMIN_SESSION_COOKIE = "funnelsync_admin"


def admin_router(session_config: RotatingSessionConfig) -> Router:
    """Everything under /admin, behind its own session cookie and table."""
    return Router(
        path="/",
        route_handlers=[
            AdminLoginController,
            AdminPlansController,
            AdminShopsController,
            AdminSubscriptionsController,
            AdminSyncController,
            AdminDeadLettersController,
            AdminAuditController,
        ],
        middleware=[session_config.middleware],
    )
