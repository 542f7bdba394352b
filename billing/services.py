"""What a shop pays for and what it may do: current plan, entitlements, subscribing.

Subscribing goes through Shopify's Billing API (required for App Store apps): the
merchant approves the charge on Shopify's confirmation page, and the app learns the
outcome from the return redirect and from the `app_subscriptions/update` webhook,
whichever comes first. Events are applied in the provider's time order, so a late,
older event never undoes a newer state. Shops without an active subscription have the
free plan's limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing.plans import FREE_PLAN
from billing.tables import Plan, PlanPrice, Subscription
from iam.context import IamContext
from iam.tokens import with_shop_token
from sync.inbox import InboxEventData
from sync.jobs import utcnow, write_transaction

ACTIVE, PENDING = "active", "pending"
SUBSCRIPTION_GID = "gid://shopify/AppSubscription/"
INTERVAL_TO_SHOPIFY = {"month": "EVERY_30_DAYS", "year": "ANNUAL"}

CREATE_MUTATION = """
mutation Subscribe($name: String!, $returnUrl: URL!, $trialDays: Int, $test: Boolean,
                   $amount: Decimal!, $currency: CurrencyCode!, $interval: AppPricingInterval!) {
  appSubscriptionCreate(name: $name, returnUrl: $returnUrl, trialDays: $trialDays, test: $test, lineItems: [
    {plan: {appRecurringPricingDetails: {
      price: {amount: $amount, currencyCode: $currency}, interval: $interval
    }}}
  ]) {
    appSubscription { id status }
    confirmationUrl
    userErrors { field message }
  }
}
"""
STATUS_QUERY = """
query SubscriptionStatus($id: ID!) {
  node(id: $id) { ... on AppSubscription { id status currentPeriodEnd } }
}
"""
CANCEL_MUTATION = """
mutation Cancel($id: ID!) {
  appSubscriptionCancel(id: $id) { appSubscription { id status } userErrors { field message } }
}
"""


class BillingRefused(Exception):
    """The plan change cannot go ahead; the message is for the merchant."""


@dataclass(frozen=True)
class Entitlements:
    plan_code: str
    plan_name: str
    live_funnels: int
    upsells_per_funnel: int
    synced_orders_per_month: int


async def _free_plan() -> dict[str, Any]:
    plan = await Plan.select().where(Plan.code == FREE_PLAN).first()
    assert plan is not None, "the free plan is created by a migration"
    return plan


async def active_subscription(shop_domain: str) -> dict[str, Any] | None:
    row: dict[str, Any] | None = (
        await Subscription.select(
            *Subscription.all_columns(),
            Subscription.plan.code,
            Subscription.plan.name,
            Subscription.plan_price.amount_cents,
            Subscription.plan_price.currency,
            Subscription.plan_price.interval,
        )
        .where((Subscription.shop_domain == shop_domain) & (Subscription.status == ACTIVE))
        .order_by(Subscription.id, ascending=False)
        .first()
    )
    return row


async def entitlements(shop_domain: str) -> Entitlements:
    subscription = await active_subscription(shop_domain)
    plan = (
        await Plan.select().where(Plan.id == subscription["plan"]).first() if subscription else None
    ) or await _free_plan()
    return Entitlements(
        plan_code=plan["code"],
        plan_name=plan["name"],
        live_funnels=plan["live_funnels_limit"],
        upsells_per_funnel=plan["upsells_limit"],
        synced_orders_per_month=plan["synced_orders_limit"],
    )


async def subscribable_plans() -> list[dict[str, Any]]:
    """Active paid plans with the price new subscribers get."""
    plans = await Plan.select().where(Plan.archived.eq(False) & (Plan.code != FREE_PLAN)).order_by(Plan.id)
    prices = {row["plan"]: row for row in await PlanPrice.select().where(PlanPrice.current.eq(True))}
    return [{**plan, "price": prices[plan["id"]]} for plan in plans if plan["id"] in prices]


async def start_subscription(
    ctx: IamContext, shop_domain: str, plan_code: str, return_url: str, *, test: bool
) -> str:
    """Creates the charge at Shopify; returns the confirmation URL the merchant must visit."""
    plan = next((item for item in await subscribable_plans() if item["code"] == plan_code), None)
    if plan is None:
        raise BillingRefused("That plan is not available. Choose one of the plans listed.")
    price = plan["price"]
    variables = {
        "name": plan["name"],
        "returnUrl": return_url,
        "trialDays": plan["trial_days"],
        "test": test,
        "amount": str(Decimal(price["amount_cents"]) / 100),
        "currency": price["currency"],
        "interval": INTERVAL_TO_SHOPIFY[price["interval"]],
    }
    result = await with_shop_token(
        ctx, shop_domain, lambda token: ctx.shopify.graphql(shop_domain, token, CREATE_MUTATION, variables)
    )
    payload = result.data["appSubscriptionCreate"]
    if payload["userErrors"]:
        raise BillingRefused("Shopify refused the charge: " + payload["userErrors"][0]["message"])
    await Subscription.insert(
        Subscription(
            shop_domain=shop_domain,
            plan=plan["id"],
            plan_price=price["id"],
            provider="shopify",
            external_id=payload["appSubscription"]["id"],
            status=PENDING,
            trial_days=plan["trial_days"],
        )
    )
    return str(payload["confirmationUrl"])


async def apply_status(
    shop_domain: str, external_id: str, status: str, changed_at: datetime, period_end: datetime | None = None
) -> bool:
    """Records the provider's status if it is newer than what we hold; True when applied."""
    async with write_transaction():
        row = (
            await Subscription.select()
            .where((Subscription.external_id == external_id) & (Subscription.shop_domain == shop_domain))
            .first()
        )
        if row is None:
            return False
        if row["provider_updated_at"] is not None and row["provider_updated_at"] > changed_at:
            return False  # an older event arriving late
        await Subscription.update(
            {
                Subscription.status: status.lower(),
                Subscription.provider_updated_at: changed_at,
                Subscription.current_period_end: period_end or row["current_period_end"],
                Subscription.updated_at: utcnow(),
            }
        ).where(Subscription.id == row["id"])
        if status.lower() == ACTIVE:
            # Shopify replaces the previous plan when a new one is approved.
            await Subscription.update(
                {Subscription.status: "cancelled", Subscription.updated_at: utcnow()}
            ).where(
                (Subscription.shop_domain == shop_domain)
                & (Subscription.status == ACTIVE)
                & (Subscription.id != row["id"])
            )
    return True


async def confirm_return(ctx: IamContext, shop_domain: str, charge_id: str) -> str | None:
    """After the merchant decided on Shopify's page: asks Shopify what they decided."""
    if not charge_id.isdigit():
        return None
    gid = f"{SUBSCRIPTION_GID}{charge_id}"
    result = await with_shop_token(
        ctx, shop_domain, lambda token: ctx.shopify.graphql(shop_domain, token, STATUS_QUERY, {"id": gid})
    )
    node = result.data.get("node")
    if not node:
        return None
    period_end = datetime.fromisoformat(node["currentPeriodEnd"]) if node.get("currentPeriodEnd") else None
    await apply_status(shop_domain, gid, node["status"], utcnow(), period_end)
    return str(node["status"]).lower()


async def cancel_subscription(ctx: IamContext, shop_domain: str) -> None:
    subscription = await active_subscription(shop_domain)
    if subscription is None:
        raise BillingRefused("There is no paid plan to cancel.")
    gid = subscription["external_id"]
    result = await with_shop_token(
        ctx, shop_domain, lambda token: ctx.shopify.graphql(shop_domain, token, CANCEL_MUTATION, {"id": gid})
    )
    errors = result.data["appSubscriptionCancel"]["userErrors"]
    if errors:
        raise BillingRefused("Shopify refused to cancel: " + errors[0]["message"])
    await apply_status(shop_domain, gid, "cancelled", utcnow())


async def handle_app_subscription_update(event: InboxEventData) -> None:
    """`app_subscriptions/update`: the latest status wins, by Shopify's `updated_at`."""
    data = event.payload.get("app_subscription") or {}
    external_id = str(data.get("admin_graphql_api_id", ""))
    changed = data.get("updated_at")
    if not external_id or not event.shop_domain or not changed:
        return
    await apply_status(
        event.shop_domain, external_id, str(data.get("status", "")), datetime.fromisoformat(changed)
    )


TOPIC_HANDLERS = {"shopify:app_subscriptions/update": handle_app_subscription_update}
