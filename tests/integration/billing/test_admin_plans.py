"""The admin area through its routes: sign-in, lockout, separation from merchants, plans, audit."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from billing.plans import PlanForm, create_plan
from billing.services import NewSubscription, ProviderState, apply_payment, apply_state
from billing.tables import Plan, PlanPrice
from funnels.tables import Funnel
from iam.admin import create_admin
from iam.tables import AuditEntry
from jobqueue.jobs import enqueue
from jobqueue.tables import Job
from tests.integration.iam.support import csrf_token, install_shop, sign_in

pytestmark = pytest.mark.postgres
EMAIL, PASSWORD = "ops@example.com", "correct-horse-battery"
PLAN = {
    "code": "pro-monthly",
    "name": "Pro",
    "description": "For growing shops",
    "price": "29.00",
    "currency": "USD",
    "interval": "month",
    "trial_days": "14",
    "live_funnels_limit": "10",
    "synced_orders_limit": "5000",
    "upsells_limit": "5",
}


async def post(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    return await client.post(path, data={**data, "_csrf_token": await csrf_token(client)})


async def signed_in_admin(client: httpx.AsyncClient) -> None:
    await create_admin(EMAIL, PASSWORD)
    response = await post(client, "/admin/login", {"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/admin/plans"


async def test_wrong_password_is_refused_and_five_failures_lock_the_account(
    client: httpx.AsyncClient,
) -> None:
    await create_admin(EMAIL, PASSWORD)
    for _ in range(4):
        wrong = await post(client, "/admin/login", {"email": EMAIL, "password": "not-the-password"})
        assert wrong.status_code == 401
        assert "email or password is not right" in wrong.text
    fifth = await post(client, "/admin/login", {"email": EMAIL, "password": "not-the-password"})
    assert "locked for 15 minutes" in fifth.text
    right_but_locked = await post(client, "/admin/login", {"email": EMAIL, "password": PASSWORD})
    assert right_but_locked.status_code == 401
    assert "locked" in right_but_locked.text
    unknown = await post(client, "/admin/login", {"email": "nobody@example.com", "password": PASSWORD})
    assert "email or password is not right" in unknown.text  # no hint that the account does not exist


async def test_admin_login_needs_csrf(client: httpx.AsyncClient) -> None:
    await create_admin(EMAIL, PASSWORD)
    response = await client.post("/admin/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 403


async def test_a_merchant_session_cannot_reach_admin_pages(client: httpx.AsyncClient, app: object) -> None:
    await install_shop(app, "demo-store.myshopify.com")  # type: ignore[arg-type]
    await sign_in(client, "demo-store.myshopify.com")
    assert (await client.get("/app/")).status_code == 200
    for path in (
        "/admin/",
        "/admin/plans",
        "/admin/shops",
        "/admin/subscriptions",
        "/admin/sync",
        "/admin/dead-letters",
        "/admin/audit",
    ):
        response = await client.get(path)
        assert response.status_code == 302
        assert response.headers["location"] == "/admin/login"


async def test_an_admin_session_cannot_act_as_a_merchant(client: httpx.AsyncClient) -> None:
    await signed_in_admin(client)
    assert (await client.get("/admin/plans")).status_code == 200
    merchant = await client.get("/app/", headers={"accept": "text/html"})
    assert merchant.status_code == 401
    created = await post(client, "/funnels/", {})
    assert created.status_code == 401


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
    response = await post(client, "/admin/plans", {**PLAN, **changes})
    assert response.status_code == 400
    assert message in response.text
    assert f'href="#{field}"' in response.text
    assert 'value="Pro"' in response.text
    assert await Plan.count() == 1  # only the free plan


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


async def test_dead_letters_page_lists_and_replays(client: httpx.AsyncClient) -> None:
    await signed_in_admin(client)
    job_id = await enqueue("iam.provision_account", {"system": "crm"}, shop_domain="a.myshopify.com")
    await Job.update({Job.status: "dead", Job.last_error: "CRM answered 500"}).where(Job.id == job_id)
    page = await client.get("/admin/dead-letters")
    assert "CRM answered 500" in page.text
    replayed = await post(client, f"/admin/dead-letters/{job_id}/replay", {})
    assert replayed.status_code == 303
    assert (await Job.select(Job.status).where(Job.id == job_id).first()) == {"status": "queued"}
    audit = await client.get("/admin/audit")
    assert re.search(r"job\.replay</code>\s*" + str(job_id), audit.text)


async def test_subscriptions_and_shops_pages_show_plans_states_and_funnels(
    client: httpx.AsyncClient, app: object
) -> None:
    shop, other = "demo-store.myshopify.com", "demo-advanced.myshopify.com"
    for domain in (shop, other):
        await install_shop(app, domain)  # type: ignore[arg-type]
    plan_id, _ = await create_plan(PlanForm.from_data(PLAN))
    price = await PlanPrice.select(PlanPrice.id).where(PlanPrice.plan == plan_id).first()
    assert price is not None
    since = datetime(2026, 11, 1, tzinfo=UTC)
    for domain, external_id in ((shop, "sub_shop_one"), (other, "gid://shopify/AppSubscription/7")):
        state = ProviderState(status="active", changed_at=since, period_end=since + timedelta(days=30))
        provider = "stripe" if external_id.startswith("sub_") else "shopify"
        await apply_state(domain, external_id, state, new=NewSubscription(provider, price["id"]))
    await apply_payment(shop, "sub_shop_one", paid=False, at=since + timedelta(days=2))
    await Funnel.insert(Funnel(shop_domain=shop, status="live"), Funnel(shop_domain=shop, status="draft"))
    await signed_in_admin(client)

    page = await client.get("/admin/subscriptions")
    assert page.status_code == 200
    assert "sub_shop_one" in page.text
    assert "gid://shopify/AppSubscription/7" in page.text
    assert "29.00 USD / month" in page.text
    assert "Payment failed 2026-11-03" in page.text
    assert "free plan limits since 2026-11-10" in page.text  # the grace period ended
    assert "Stripe" in page.text
    assert "Shopify" in page.text

    shops = await client.get("/admin/shops")
    assert shops.text.count("Pro") >= 2
    assert "1 live" in shops.text
    assert "2 in all" in shops.text
    assert 'href="/admin/subscriptions"' in shops.text
