"""What every admin page shares: the signed-in admin, the page template and the way to sign-in."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from iam.admin import admin_email

ADMIN_SESSION_KEY = "admin_id"
AnyRequest = Request[Any, Any, State]
Form = URLEncodedBody[dict[str, str]]
AdminEmail = NamedDependency[str]


async def current_admin(request: AnyRequest) -> str:
    admin_id = request.session.get(ADMIN_SESSION_KEY) if request.session else None
    email = await admin_email(int(admin_id)) if isinstance(admin_id, int) else None
    if email is None:
        raise NotAuthorizedException("admin sign-in required")
    return email


def admin_page(name: str, admin: str | None, status_code: int = 200, **context: Any) -> Template:
    return Template(
        template_name=f"admin/{name}.html", context={"admin": admin, **context}, status_code=status_code
    )


def to_login(request: AnyRequest, exc: NotAuthorizedException) -> Redirect:
    return Redirect("/admin/login")


class AdminPages(Controller):
    """The base of every page group behind the admin sign-in; without it, to the sign-in page."""

    path = "/admin"
    dependencies = {"admin": current_admin}
    exception_handlers = {NotAuthorizedException: to_login}
