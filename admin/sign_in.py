"""Admin sign-in and sign-out."""

from __future__ import annotations

import structlog
from litestar import Controller, get, post
from litestar.response import Redirect, Template

from admin.pages import ADMIN_SESSION_KEY, AnyRequest, Form, admin_page
from iam.admin import admin_email, authenticate, record_audit
from iam.sessions import rotate_session_id

log = structlog.get_logger("funnelsync.admin")

REFUSED = "The email or password is not right, or there were too many attempts: wait a little and try again."


class AdminLoginController(Controller):
    path = "/admin"

    @get("/login")
    async def login_form(self) -> Template:
        return admin_page("login", None, values={}, errors={})

    @post("/login", status_code=303)
    async def login(self, request: AnyRequest, data: Form) -> Template | Redirect:
        email = str(data.get("email", "")).strip()
        result = await authenticate(email, str(data.get("password", "")), client_address(request))
        if result.admin_id is None:
            log.warning("admin_login_refused", throttled=result.throttled)
            # One answer for an unknown email, a wrong password and a throttled attempt.
            return admin_page(
                "login", None, status_code=401, values={"email": email}, errors={"email": REFUSED}
            )
        rotate_session_id(request.scope)
        request.clear_session()
        request.set_session({ADMIN_SESSION_KEY: result.admin_id})
        await record_audit(email, "admin.login", email, {}, {})
        return Redirect("/admin/plans", status_code=303)

    @post("/logout", status_code=303)
    async def logout(self, request: AnyRequest) -> Redirect:
        admin_id = request.session.get(ADMIN_SESSION_KEY) if request.session else None
        email = await admin_email(admin_id) if isinstance(admin_id, int) else None
        request.clear_session()
        if email is not None:
            await record_audit(email, "admin.logout", email, {}, {"source": client_address(request)})
        return Redirect("/admin/login", status_code=303)


def client_address(request: AnyRequest) -> str:
    """The client's address as Litestar sees it: the throttle's and the audit log's source."""
    return request.client.host if request.client else "unknown"
