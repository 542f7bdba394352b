"""Plans that admins manage. A price change adds a price; charged prices are never edited."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from billing.tables import BillingInterval, Plan, PlanPrice
from lib.clock import utcnow
from lib.db import write_transaction

FREE_PLAN = "free"
# Currencies both billing providers charge in (Shopify's Billing API and Stripe).
BILLING_CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
INTERVALS = {BillingInterval.MONTH: "Monthly", BillingInterval.YEAR: "Yearly"}
MAX_PRICE = Decimal("100000")
MAX_TRIAL_DAYS = 365
MAX_LIMIT = 1_000_000
CODE = re.compile(r"\A[a-z0-9][a-z0-9-]{1,38}[a-z0-9]\Z")

Errors = dict[str, str]


@dataclass(frozen=True)
class PlanForm:
    code: str
    name: str
    description: str
    price: str
    currency: str
    interval: str
    trial_days: str
    live_funnels_limit: str
    synced_orders_limit: str
    upsells_limit: str

    @classmethod
    def from_data(cls, data: dict[str, str]) -> PlanForm:
        return cls(**{name: str(data.get(name, "")).strip() for name in cls.__dataclass_fields__})

    def values(self) -> dict[str, str]:
        return asdict(self)


def _whole_number(value: str, low: int, high: int) -> int | None:
    try:
        number = int(value)
    except ValueError:
        return None
    return number if low <= number <= high else None


def plan_errors(form: PlanForm, *, creating: bool) -> Errors:
    errors: Errors = {}
    if creating and not CODE.match(form.code):
        errors["code"] = "Use 3 to 40 lowercase letters, digits or hyphens, like pro-monthly"
    if not form.name or len(form.name) > 80:
        errors["name"] = "Enter a name of at most 80 characters"
    if len(form.description) > 500:
        errors["description"] = "Keep the description to 500 characters"
    try:
        price = Decimal(form.price)
    except InvalidOperation:
        price = Decimal(-1)
    if not price.is_finite() or price < 0 or price > MAX_PRICE or price.as_tuple().exponent < -2:  # type: ignore[operator]
        errors["price"] = f"Enter a price between 0 and {MAX_PRICE:,} with at most two decimals, like 29.00"
    if form.currency not in BILLING_CURRENCIES:
        errors["currency"] = "Choose one of the currencies the billing providers charge in"
    if form.interval not in INTERVALS:
        errors["interval"] = "Choose monthly or yearly"
    if _whole_number(form.trial_days, 0, MAX_TRIAL_DAYS) is None:
        errors["trial_days"] = f"Enter whole days from 0 to {MAX_TRIAL_DAYS}"
    for name in ("live_funnels_limit", "synced_orders_limit", "upsells_limit"):
        if _whole_number(getattr(form, name), 0, MAX_LIMIT) is None:
            errors[name] = f"Enter a whole number from 0 to {MAX_LIMIT:,}"
    return errors


def _cents(price: str) -> int:
    return int(Decimal(price) * 100)


async def list_plans() -> list[dict[str, Any]]:
    plans = await Plan.select().order_by(Plan.archived).order_by(Plan.id)
    prices = await PlanPrice.select().where(PlanPrice.current.eq(True))
    current = {row["plan"]: row for row in prices}
    return [{**plan, "price": current.get(plan["id"])} for plan in plans]


async def plan_snapshot(plan_id: int) -> dict[str, Any] | None:
    plan = await Plan.select().where(Plan.id == plan_id).first()
    if plan is None:
        return None
    price = await PlanPrice.select().where((PlanPrice.plan == plan_id) & PlanPrice.current.eq(True)).first()
    snapshot = {key: value for key, value in plan.items() if key not in ("created_at", "updated_at")}
    if price:
        snapshot.update(
            price=f"{Decimal(price['amount_cents']) / 100:.2f}",
            currency=price["currency"],
            interval=price["interval"],
            price_id=price["id"],
        )
    return snapshot


async def create_plan(form: PlanForm) -> tuple[int | None, Errors]:
    errors = plan_errors(form, creating=True)
    if not errors and await Plan.exists().where(Plan.code == form.code):
        errors["code"] = f"A plan with the code {form.code} already exists: choose another"
    if errors:
        return None, errors
    async with write_transaction():
        rows = await Plan.insert(
            Plan(
                code=form.code,
                name=form.name,
                description=form.description,
                trial_days=int(form.trial_days),
                live_funnels_limit=int(form.live_funnels_limit),
                synced_orders_limit=int(form.synced_orders_limit),
                upsells_limit=int(form.upsells_limit),
            )
        ).returning(Plan.id)
        plan_id = int(rows[0]["id"])
        await PlanPrice.insert(
            PlanPrice(
                plan=plan_id, amount_cents=_cents(form.price), currency=form.currency, interval=form.interval
            )
        )
    return plan_id, {}


async def update_plan(plan_id: int, form: PlanForm) -> Errors:
    """Saves the plan; a new price, currency or interval becomes a new current price."""
    errors = plan_errors(form, creating=False)
    if errors:
        return errors
    async with write_transaction():
        await Plan.update(
            {
                Plan.name: form.name,
                Plan.description: form.description,
                Plan.trial_days: int(form.trial_days),
                Plan.live_funnels_limit: int(form.live_funnels_limit),
                Plan.synced_orders_limit: int(form.synced_orders_limit),
                Plan.upsells_limit: int(form.upsells_limit),
                Plan.updated_at: utcnow(),
            }
        ).where(Plan.id == plan_id)
        current = (
            await PlanPrice.select().where((PlanPrice.plan == plan_id) & PlanPrice.current.eq(True)).first()
        )
        wanted = (_cents(form.price), form.currency, form.interval)
        if current is None or (current["amount_cents"], current["currency"], current["interval"]) != wanted:
            await PlanPrice.update({PlanPrice.current: False}).where(PlanPrice.plan == plan_id)
            await PlanPrice.insert(
                PlanPrice(plan=plan_id, amount_cents=wanted[0], currency=wanted[1], interval=wanted[2])
            )
    return {}


async def set_archived(plan_id: int, archived: bool) -> str | None:
    """None when done, else why not (the free plan is what shops fall back to)."""
    plan = await Plan.select(Plan.code).where(Plan.id == plan_id).first()
    if plan is None:
        return "No such plan"
    if plan["code"] == FREE_PLAN and archived:
        return "The free plan cannot be archived: shops without a subscription use it"
    await Plan.update({Plan.archived: archived, Plan.updated_at: utcnow()}).where(Plan.id == plan_id)
    return None


async def price_history(plan_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await PlanPrice.select().where(PlanPrice.plan == plan_id).order_by(PlanPrice.id, ascending=False)
    )
    return rows
