"""Admin: plans. Prices are never edited once made: a change adds a price for new subscribers."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from admin.pages import AdminEmail, AdminPages, Form, admin_page
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
from iam.admin import record_audit


class AdminPlansController(AdminPages):
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
