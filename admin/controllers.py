"""The admin area: its own users and sessions, plans, shops, subscriptions, dead letters and the
audit log."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Controller, Request, Router, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from piccolo.query.functions.aggregate import Count

from billing.plans import (
    BILLING_CURRENCIES,
    INTERVALS,
    PlanForm,
    create_plan,
    list_plans,
    plan_snapshot,
    price_history,
    set_archived,
    update_plan,
)
from billing.services import current_subscriptions_by_shop, list_subscriptions
from funnels.tables import Funnel
from iam.admin import admin_email, audit_log, authenticate, record_audit
from iam.sessions import RotatingSessionConfig, rotate_session_id
from iam.tables import Shop
from jobqueue.jobs import dead_letters, replay_dead_letter
from jobqueue.tables import JobStatus
from lib.clock import utcnow
from sync.activity import DIRECTION_LABELS, ENTITY_LABELS, sync_overview

log = structlog.get_logger("funnelsync.admin")

ADMIN_SESSION_COOKIE = "funnelsync_admin"
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


def to_login(request: AnyRequest, exc: NotAuthorizedException) -> Redirect:
    return Redirect("/admin/login")


class AdminController(Controller):
    path = "/admin"
    dependencies = {"admin": current_admin}
    exception_handlers = {NotAuthorizedException: to_login}

    @get("/")
    async def home(self, admin: AdminEmail) -> Redirect:
        return Redirect("/admin/plans")

    @get("/plans")
    async def plans(self, admin: AdminEmail) -> Template:
        return admin_page("plans", admin, plans=await list_plans())

    @get("/plans/new")
    async def new_plan(self, admin: AdminEmail) -> Template:
        defaults = {"currency": "USD", "interval": "month", "trial_days": "14", "price": ""}
        return self._plan_form(admin, None, defaults, {})

    def _plan_form(
        self,
        admin: str,
        plan_id: int | None,
        values: dict[str, Any],
        errors: dict[str, str],
        status_code: int = 200,
    ) -> Template:
        return admin_page(
            "plan_form",
            admin,
            status_code=status_code,
            plan_id=plan_id,
            values=values,
            errors=errors,
            currencies=BILLING_CURRENCIES,
            intervals=INTERVALS,
        )

    @post("/plans", status_code=303)
    async def create(self, admin: AdminEmail, data: Form) -> Template | Redirect:
        form = PlanForm.from_data(data)
        plan_id, errors = await create_plan(form)
        if plan_id is None:
            return self._plan_form(admin, None, form.values(), errors, status_code=400)
        await record_audit(admin, "plan.create", form.code, {}, await plan_snapshot(plan_id) or {})
        return Redirect("/admin/plans", status_code=303)

    @get("/plans/{plan_id:int}")
    async def edit(self, admin: AdminEmail, plan_id: FromPath[int]) -> Template:
        snapshot = await plan_snapshot(plan_id)
        if snapshot is None:
            raise NotFoundException()
        return admin_page(
            "plan_form",
            admin,
            plan_id=plan_id,
            values={key: str(value) for key, value in snapshot.items()},
            errors={},
            currencies=BILLING_CURRENCIES,
            intervals=INTERVALS,
            prices=await price_history(plan_id),
        )

    @post("/plans/{plan_id:int}", status_code=303)
    async def update(self, admin: AdminEmail, plan_id: FromPath[int], data: Form) -> Template | Redirect:
        before = await plan_snapshot(plan_id)
        if before is None:
            raise NotFoundException()
        form = PlanForm.from_data({**data, "code": str(before["code"])})
        errors = await update_plan(plan_id, form)
        if errors:
            return self._plan_form(admin, plan_id, form.values(), errors, status_code=400)
        await record_audit(admin, "plan.update", form.code, before, await plan_snapshot(plan_id) or {})
        return Redirect("/admin/plans", status_code=303)

    @post("/plans/{plan_id:int}/archive", status_code=303)
    async def archive(self, admin: AdminEmail, plan_id: FromPath[int], data: Form) -> Template | Redirect:
        before = await plan_snapshot(plan_id) or {}
        archived = str(data.get("archived", "true")) == "true"
        problem = await set_archived(plan_id, archived)
        if problem:
            return admin_page("plans", admin, status_code=400, plans=await list_plans(), problem=problem)
        action = "plan.archive" if archived else "plan.restore"
        await record_audit(
            admin, action, str(before.get("code", plan_id)), before, await plan_snapshot(plan_id) or {}
        )
        return Redirect("/admin/plans", status_code=303)

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

    @get("/subscriptions")
    async def subscriptions(self, admin: AdminEmail) -> Template:
        return admin_page("subscriptions", admin, subscriptions=await list_subscriptions(), now=utcnow())

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

    @get("/dead-letters")
    async def letters(self, admin: AdminEmail) -> Template:
        return admin_page("dead_letters", admin, letters=await dead_letters())

    @post("/dead-letters/{job_id:int}/replay", status_code=303)
    async def replay(self, admin: AdminEmail, job_id: FromPath[int], state: State) -> Redirect:
        if await replay_dead_letter(job_id):
            await record_audit(
                admin, "job.replay", str(job_id), {"status": JobStatus.DEAD}, {"status": JobStatus.QUEUED}
            )
            state.worker.wake()
        return Redirect("/admin/dead-letters", status_code=303)

    @get("/audit")
    async def audit(self, admin: AdminEmail) -> Template:
        return admin_page("audit", admin, entries=await audit_log())


def admin_router(session_config: RotatingSessionConfig) -> Router:
    """Everything under /admin, behind its own session cookie and table."""
    return Router(
        path="/",
        route_handlers=[AdminLoginController, AdminController],
        middleware=[session_config.middleware],
    )
