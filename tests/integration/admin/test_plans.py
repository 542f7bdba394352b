"""Admin: plans through their routes. The free plan stays, a price change adds a price, each action
is audited, bad input is explained and kept."""

from __future__ import annotations

import httpx
import pytest

from billing.tables import Plan, PlanPrice
from iam.tables import AuditEntry
from tests.support.admin_area import EMAIL, PLAN, post, signed_in_admin

pytestmark = pytest.mark.postgres


async def test_free_plan_exists_by_default_and_cannot_be_archived(client: httpx.AsyncClient) -> None:
    await signed_in_admin(client)
    page = await client.get("/admin/plans")
    assert "Free (shared CRM)" in page.text
    free = await Plan.select(Plan.id).where(Plan.code == "free").first()
    assert free is not None
    refused = await post(client, f"/admin/plans/{free['id']}/archive", {"archived": "true"})
    assert refused.status_code == 400
    assert "cannot be archived" in refused.text


async def test_admin_creates_a_plan_and_the_action_is_audited(client: httpx.AsyncClient) -> None:
    await signed_in_admin(client)
    created = await post(client, "/admin/plans", PLAN)
    assert created.status_code == 303
    plans = await client.get("/admin/plans")
    assert "29.00 USD / month" in plans.text
    entry = await AuditEntry.select().where(AuditEntry.action == "plan.create").output(load_json=True).first()
    assert entry is not None
    assert entry["actor"] == EMAIL
    assert entry["after"]["price"] == "29.00"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"price": "-5"}, "price", "between 0 and"),
        ({"price": "1000000"}, "price", "between 0 and"),
        ({"price": "12.345"}, "price", "two decimals"),
        ({"currency": "XYZ"}, "currency", "Choose one of the currencies"),
        ({"trial_days": "400"}, "trial_days", "from 0 to 365"),
        ({"code": "Bad Code!"}, "code", "lowercase letters"),
        ({"live_funnels_limit": "-1"}, "live_funnels_limit", "whole number"),
        ({"interval": "weekly"}, "interval", "monthly or yearly"),
    ],
)
async def test_bad_plan_input_is_explained_and_kept(
    client: httpx.AsyncClient, changes: dict[str, str], field: str, message: str
) -> None:
    await signed_in_admin(client)
    plans_before = await Plan.count()
    response = await post(client, "/admin/plans", {**PLAN, **changes})
    assert response.status_code == 400
    assert message in response.text
    assert f'href="#{field}"' in response.text
    assert 'value="Pro"' in response.text
    assert await Plan.count() == plans_before


async def test_duplicate_plan_code_is_refused(client: httpx.AsyncClient) -> None:
    await signed_in_admin(client)
    await post(client, "/admin/plans", PLAN)
    again = await post(client, "/admin/plans", {**PLAN, "name": "Pro again"})
    assert again.status_code == 400
    assert "already exists" in again.text


async def test_price_change_adds_a_price_and_keeps_the_old_one(client: httpx.AsyncClient) -> None:
    await signed_in_admin(client)
    await post(client, "/admin/plans", PLAN)
    plan = await Plan.select(Plan.id).where(Plan.code == "pro-monthly").first()
    assert plan is not None
    old = await PlanPrice.select().where(PlanPrice.plan == plan["id"]).first()
    assert old is not None
    changed = await post(client, f"/admin/plans/{plan['id']}", {**PLAN, "price": "39.00"})
    assert changed.status_code == 303
    prices = await PlanPrice.select().where(PlanPrice.plan == plan["id"]).order_by(PlanPrice.id)
    assert [(row["amount_cents"], row["current"]) for row in prices] == [(2900, False), (3900, True)]
    assert prices[0]["id"] == old["id"]  # the charged price is untouched
    edit = await client.get(f"/admin/plans/{plan['id']}")
    assert "existing subscribers only" in edit.text
    update = (
        await AuditEntry.select().where(AuditEntry.action == "plan.update").output(load_json=True).first()
    )
    assert update is not None
    assert (update["before"]["price"], update["after"]["price"]) == ("29.00", "39.00")
