"""Admin sign-in and sign-out."""

from __future__ import annotations

import structlog
from litestar import Controller, get, post
from litestar.response import Redirect, Template

from admin.pages import ADMIN_SESSION_KEY, AnyRequest, Form, admin_page
from iam.admin import authenticate, record_audit
from iam.sessions import rotate_session_id

log = structlog.get_logger("funnelsync.admin")


class AdminLoginController(Controller):
    path = "/admin"

    @get("/login")
    async def login_form(self) -> Template:
        return admin_page("login", None, values={}, errors={})

    @post("/login", status_code=303)
    async def login(self, request: AnyRequest, data: Form) -> Template | Redirect:
        email = str(data.get("email", "")).strip()
        result = await authenticate(email, str(data.get("password", "")))
        if result.admin_id is None:
            log.warning("admin_login_refused", locked=result.locked_until is not None)
            message = (
                "Too many failed attempts: this account is locked for 15 minutes"
                if result.locked_until
                else "The email or password is not right"
            )
            return admin_page(
                "login", None, status_code=401, values={"email": email}, errors={"email": message}
            )
        rotate_session_id(request.scope)
        request.clear_session()
        request.set_session({ADMIN_SESSION_KEY: result.admin_id})
        await record_audit(email, "admin.login", email, {}, {})
        return Redirect("/admin/plans", status_code=303)

    @post("/logout", status_code=303)
    async def logout(self, request: AnyRequest) -> Redirect:
        request.clear_session()
        return Redirect("/admin/login", status_code=303)
