"""What a shop pays for and what it may do: its current subscription, its entitlements, and
the rules every billing provider's news goes through.

Providers (billing.shopify_billing, billing.stripe_billing) start subscriptions and report
what happened. `apply_state` records a report when it is at least as new as what we hold:
the provider's time wins, so a late, older event never undoes a newer one. A failed payment
starts a grace period (BILLING_GRACE_DAYS): the plan's limits still apply until it ends,
then the shop has the free plan's limits (nothing is deleted) until a payment goes through.
Shops without a live subscription have the free plan's limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

import structlog
from piccolo.engine.postgres import PostgresEngine

from billing.plans import FREE_PLAN
from billing.tables import Plan, PlanPrice, Subscription, SubscriptionStatus
from lib.clock import utcnow
from lib.db import write_transaction

log = structlog.get_logger("funnelsync.billing")

# Statuses in which a subscription is the shop's plan (FAILING ones only until the grace ends).
HEALTHY = (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING)
FAILING = (SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID, SubscriptionStatus.FROZEN)
LIVE = HEALTHY + FAILING
DEFAULT_GRACE = timedelta(days=7)


class BillingRefused(Exception):
    """The plan change cannot go ahead; the message is for the merchant."""


@dataclass(frozen=True)
class Entitlements:
    plan_code: str
    plan_name: str
    live_funnels: int
    upsells_per_funnel: int
    synced_orders_per_month: int
    # True when a payment failed and the grace period ended: the free plan's limits apply.
    payment_overdue: bool = False


async def _free_plan() -> dict[str, Any]:
    plan = await Plan.select().where(Plan.code == FREE_PLAN).first()
    assert plan is not None, "the free plan is created by a migration"
    return plan


SUBSCRIPTION_COLUMNS = (
    *Subscription.all_columns(),
    Subscription.plan.code,
    Subscription.plan.name,
    Subscription.plan_price.amount_cents,
    Subscription.plan_price.currency,
    Subscription.plan_price.interval,
)


async def current_subscription(shop_domain: str) -> dict[str, Any] | None:
    """The shop's newest live subscription (active, trialing, or with a payment problem)."""
    row: dict[str, Any] | None = (
        await Subscription.select(*SUBSCRIPTION_COLUMNS)
        .where((Subscription.shop_domain == shop_domain) & Subscription.status.is_in(list(LIVE)))
        .order_by(Subscription.id, ascending=False)
        .first()
    )
    return row


async def subscription_of_shop(shop_domain: str, external_id: str) -> dict[str, Any] | None:
    """The subscription a form names, only when it is this shop's: another shop's is None."""
    row: dict[str, Any] | None = (
        await Subscription.select(*SUBSCRIPTION_COLUMNS)
        .where((Subscription.external_id == external_id) & (Subscription.shop_domain == shop_domain))
        .first()
    )
    return row


def plan_applies(subscription: dict[str, Any], now: datetime) -> bool:
    """Whether the subscription's plan limits apply: yes unless an unpaid bill's grace ended."""
    grace_ends_at: datetime | None = subscription["grace_ends_at"]
    return grace_ends_at is None or now < grace_ends_at


async def entitlements(shop_domain: str, now: datetime | None = None) -> Entitlements:
    moment = now or utcnow()
    subscription = await current_subscription(shop_domain)
    overdue = subscription is not None and not plan_applies(subscription, moment)
    plan = None
    if subscription is not None and not overdue:
        plan = await Plan.select().where(Plan.id == subscription["plan"]).first()
    plan = plan or await _free_plan()
    return Entitlements(
        plan_code=plan["code"],
        plan_name=plan["name"],
        live_funnels=plan["live_funnels_limit"],
        upsells_per_funnel=plan["upsells_limit"],
        synced_orders_per_month=plan["synced_orders_limit"],
        payment_overdue=overdue,
    )


async def subscribable_plans() -> list[dict[str, Any]]:
    """Active paid plans with the price new subscribers get."""
    plans = await Plan.select().where(Plan.archived.eq(False) & (Plan.code != FREE_PLAN)).order_by(Plan.id)
    prices = {row["plan"]: row for row in await PlanPrice.select().where(PlanPrice.current.eq(True))}
    return [{**plan, "price": prices[plan["id"]]} for plan in plans if plan["id"] in prices]


async def subscribable_plan(plan_code: str) -> dict[str, Any]:
    """The plan a form chose; archived, free or unknown plans are refused, forged or not."""
    plan = next((item for item in await subscribable_plans() if item["code"] == plan_code), None)
    if plan is None:
        raise BillingRefused("That plan is not available. Choose one of the plans listed.")
    return plan


# -- recording what providers report ---------------------------------------------------------


class Outcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # older than what we hold: ignored
    TIE = "tie"  # as old as what we hold and different: the caller asks the provider
    MISSING = "missing"  # no such subscription (and nothing to create it from)
    REFUSED = "refused"  # the subscription belongs to another shop


@dataclass(frozen=True)
class ProviderState:
    """A subscription as the provider reports it at `changed_at` (its clock).

    `changed_at=None` means the state was just fetched from the provider: it is current, so
    it is applied and keeps the time we hold.
    """

    status: str
    changed_at: datetime | None
    period_end: datetime | None = None
    trial_end: datetime | None = None
    cancel_at_period_end: bool | None = None
    # The price the provider now charges, when it says (a plan switch in Stripe's portal).
    plan_price_id: int | None = None


@dataclass(frozen=True)
class NewSubscription:
    """What a subscription we have not seen yet is made of (Stripe reports them first)."""

    provider: str
    plan_price_id: int


async def _locked(external_id: str) -> dict[str, Any] | None:
    """The row, locked until the transaction ends (PostgreSQL; SQLite holds the write lock)."""
    query = Subscription.select().where(Subscription.external_id == external_id)
    if isinstance(Subscription._meta.db, PostgresEngine):
        query = query.lock_rows("UPDATE")
    row: dict[str, Any] | None = await query.first()
    return row


async def _insert(shop_domain: str, external_id: str, new: NewSubscription) -> None:
    price = await PlanPrice.select().where(PlanPrice.id == new.plan_price_id).first()
    if price is None:
        return
    plan = await Plan.select(Plan.trial_days).where(Plan.id == price["plan"]).first()
    await Subscription.insert(
        Subscription(
            shop_domain=shop_domain,
            plan=price["plan"],
            plan_price=price["id"],
            provider=new.provider,
            external_id=external_id,
            status=SubscriptionStatus.PENDING,
            trial_days=plan["trial_days"] if plan else 0,
        )
    ).on_conflict(action="DO NOTHING")


def _differs(row: dict[str, Any], state: ProviderState) -> bool:
    return (
        row["status"] != state.status
        or (state.plan_price_id is not None and row["plan_price"] != state.plan_price_id)
        or (
            state.cancel_at_period_end is not None
            and row["cancel_at_period_end"] != state.cancel_at_period_end
        )
        or (state.period_end is not None and row["current_period_end"] != state.period_end)
    )


def _payment_values(row: dict[str, Any], status: str, at: datetime, grace: timedelta) -> dict[Any, Any]:
    """A status that says the bill is unpaid starts the grace period (once); a healthy one,
    no older than the last payment outcome, ends it."""
    last = row["payment_event_at"]
    if last is not None and at < last:
        return {}
    if status in FAILING and row["payment_failed_at"] is None:
        return {
            Subscription.payment_failed_at: at,
            Subscription.grace_ends_at: at + grace,
            Subscription.payment_event_at: at,
        }
    if status in HEALTHY and row["payment_failed_at"] is not None:
        return {
            Subscription.payment_failed_at: None,
            Subscription.grace_ends_at: None,
            Subscription.payment_event_at: at,
        }
    return {}


async def apply_state(
    shop_domain: str,
    external_id: str,
    state: ProviderState,
    *,
    grace: timedelta = DEFAULT_GRACE,
    new: NewSubscription | None = None,
    on_tie: Literal["apply", "report"] = "apply",
    replaces_others: bool = False,
) -> Outcome:
    """Records the provider's state of a subscription if it is not older than what we hold.

    `on_tie="report"`: a different state with the same time as ours is not applied but
    reported (Outcome.TIE), so the caller can fetch the current state from the provider.
    `replaces_others`: Shopify replaces the previous plan when a new one is approved.
    """
    async with write_transaction():
        row = await _locked(external_id)
        if row is None and new is not None:
            await _insert(shop_domain, external_id, new)
            row = await _locked(external_id)
        if row is None:
            return Outcome.MISSING
        if row["shop_domain"] != shop_domain:
            log.warning("subscription_of_another_shop", shop=shop_domain, subscription=external_id)
            return Outcome.REFUSED
        held: datetime | None = row["provider_updated_at"]
        if state.changed_at is not None and held is not None:
            if held > state.changed_at:
                return Outcome.STALE  # an older event arriving late
            if held == state.changed_at and on_tie == "report" and _differs(row, state):
                return Outcome.TIE
        status = state.status.lower()
        values: dict[Any, Any] = {
            Subscription.status: status,
            Subscription.provider_updated_at: state.changed_at or held,
            Subscription.current_period_end: state.period_end or row["current_period_end"],
            Subscription.updated_at: utcnow(),
        }
        if state.trial_end is not None:
            values[Subscription.trial_end] = state.trial_end
        if state.cancel_at_period_end is not None:
            values[Subscription.cancel_at_period_end] = state.cancel_at_period_end
        if state.plan_price_id is not None and state.plan_price_id != row["plan_price"]:
            price = await PlanPrice.select(PlanPrice.plan).where(PlanPrice.id == state.plan_price_id).first()
            if price is not None:
                values[Subscription.plan] = price["plan"]
                values[Subscription.plan_price] = state.plan_price_id
        if state.changed_at is not None:
            values.update(_payment_values(row, status, state.changed_at, grace))
        if replaces_others and status == SubscriptionStatus.ACTIVE:
            if row["trial_days"] and row["trial_end"] is None and state.changed_at is not None:
                values[Subscription.trial_end] = state.changed_at + timedelta(days=row["trial_days"])
            await Subscription.update(
                {Subscription.status: SubscriptionStatus.CANCELLED, Subscription.updated_at: utcnow()}
            ).where(
                (Subscription.shop_domain == shop_domain)
                & (Subscription.status == SubscriptionStatus.ACTIVE)
                & (Subscription.id != row["id"])
            )
        await Subscription.update(values).where(Subscription.id == row["id"])
    return Outcome.APPLIED


async def apply_payment(
    shop_domain: str, external_id: str, *, paid: bool, at: datetime, grace: timedelta = DEFAULT_GRACE
) -> Outcome:
    """A payment outcome at the provider's time `at`: a failure starts the grace period (the
    first failure counts: retries do not extend it), a success ends it. Older outcomes than
    the last one applied are ignored."""
    async with write_transaction():
        row = await _locked(external_id)
        if row is None:
            return Outcome.MISSING
        if row["shop_domain"] != shop_domain:
            log.warning("payment_of_another_shop", shop=shop_domain, subscription=external_id)
            return Outcome.REFUSED
        last: datetime | None = row["payment_event_at"]
        if last is not None and at < last:
            return Outcome.STALE
        values: dict[Any, Any] = {Subscription.payment_event_at: at, Subscription.updated_at: utcnow()}
        if paid:
            values.update({Subscription.payment_failed_at: None, Subscription.grace_ends_at: None})
        elif row["payment_failed_at"] is None:
            values.update({Subscription.payment_failed_at: at, Subscription.grace_ends_at: at + grace})
        await Subscription.update(values).where(Subscription.id == row["id"])
    return Outcome.APPLIED


async def apply_status(
    shop_domain: str,
    external_id: str,
    status: str,
    changed_at: datetime,
    period_end: datetime | None = None,
    *,
    grace: timedelta = DEFAULT_GRACE,
) -> bool:
    """Shopify's rule: records the status if it is not older than what we hold; True when applied."""
    state = ProviderState(status=status.lower(), changed_at=changed_at, period_end=period_end)
    outcome = await apply_state(shop_domain, external_id, state, grace=grace, replaces_others=True)
    return outcome is Outcome.APPLIED


# -- what the merchant sees ----------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentNotice:
    """A failed payment, shown on the dashboard and the billing page until it is paid."""

    plan_name: str
    provider: str
    failed_at: datetime
    grace_ends_at: datetime
    # True once the grace period ended: the free plan's limits apply now.
    limits_reduced: bool


async def payment_notice(shop_domain: str, now: datetime | None = None) -> PaymentNotice | None:
    subscription = await current_subscription(shop_domain)
    if subscription is None or subscription["payment_failed_at"] is None:
        return None
    return PaymentNotice(
        plan_name=subscription["plan.name"],
        provider=subscription["provider"],
        failed_at=subscription["payment_failed_at"],
        grace_ends_at=subscription["grace_ends_at"],
        limits_reduced=not plan_applies(subscription, now or utcnow()),
    )


async def list_subscriptions(limit: int = 200) -> list[dict[str, Any]]:
    """Every subscription, newest first, for the admin area."""
    rows: list[dict[str, Any]] = (
        await Subscription.select(*SUBSCRIPTION_COLUMNS)
        .order_by(Subscription.id, ascending=False)
        .limit(limit)
    )
    return rows


async def current_subscriptions_by_shop() -> dict[str, dict[str, Any]]:
    """Each shop's current (newest live) subscription, for the admin's list of shops."""
    rows = await Subscription.select(*SUBSCRIPTION_COLUMNS).where(Subscription.status.is_in(list(LIVE)))
    current: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda item: item["id"]):
        current[row["shop_domain"]] = row
    return current
