"""Shopify as the billing provider: the Billing API (required for App Store apps).

The merchant approves the charge on Shopify's confirmation page; the app learns the outcome
from the return redirect and from the `app_subscriptions/update` webhook, whichever comes
first. A FROZEN subscription (the shop's Shopify bill is unpaid) starts the grace period.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from billing.returns import ReturnTo
from billing.services import BillingRefused, Outcome, ProviderState, apply_state, apply_status
from billing.tables import BillingInterval, ProviderName, Subscription, SubscriptionStatus
from connectors.shopify import UserErrors
from connectors.shopify_ids import gid
from iam.clients import ShopClients
from jobqueue.inbox import InboxEventData, TopicHandler
from lib.clock import utcnow

INTERVAL_TO_SHOPIFY = {BillingInterval.MONTH: "EVERY_30_DAYS", BillingInterval.YEAR: "ANNUAL"}

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


class ShopifyBilling:
    """The `shopify` provider (see billing.provider.BillingProvider)."""

    name = ProviderName.SHOPIFY
    label = "Shopify"

    def __init__(self, clients: ShopClients, *, grace: timedelta, test_charges: bool) -> None:
        self.clients = clients
        self.iam = clients.iam
        self.grace = grace
        self.test_charges = test_charges

    async def start(
        self, shop_domain: str, plan: dict[str, Any], current: dict[str, Any] | None, back: ReturnTo
    ) -> str:
        """Creates the charge at Shopify; returns the confirmation URL the merchant must visit.
        Approving it replaces the current plan (Shopify cancels the previous charge). Shopify
        comes back to `returnUrl` with `charge_id` added to its query."""
        price = plan["price"]
        variables = {
            "name": plan["name"],
            "returnUrl": back.url("/billing/return"),
            "trialDays": plan["trial_days"],
            "test": self.test_charges,
            "amount": str(Decimal(price["amount_cents"]) / 100),
            "currency": price["currency"],
            "interval": INTERVAL_TO_SHOPIFY[price["interval"]],
        }
        shopify = await self.clients.shopify_for(shop_domain)
        try:
            payload = await shopify.mutate(CREATE_MUTATION, variables, "appSubscriptionCreate")
        except UserErrors as refused:
            raise BillingRefused("Shopify refused the charge: " + refused.messages[0]) from refused
        await Subscription.insert(
            Subscription(
                shop_domain=shop_domain,
                plan=plan["id"],
                plan_price=price["id"],
                provider=ProviderName.SHOPIFY,
                external_id=payload["appSubscription"]["id"],
                status=SubscriptionStatus.PENDING,
                trial_days=plan["trial_days"],
            )
        )
        return str(payload["confirmationUrl"])

    async def complete(self, shop_domain: str, query: Mapping[str, str]) -> str | None:
        """After the merchant decided on Shopify's page: asks Shopify what they decided. Another
        shop's charge is not found with this shop's token, and not recorded for this shop."""
        charge_id = query.get("charge_id", "")
        if not charge_id.isdigit():
            return None
        subscription_gid = gid("AppSubscription", charge_id)
        shopify = await self.clients.shopify_for(shop_domain)
        result = await shopify.graphql(STATUS_QUERY, {"id": subscription_gid})
        node = result.data.get("node")
        if not node:
            return None
        period_end = (
            datetime.fromisoformat(node["currentPeriodEnd"]) if node.get("currentPeriodEnd") else None
        )
        state = ProviderState(status=str(node["status"]).lower(), changed_at=utcnow(), period_end=period_end)
        outcome = await apply_state(
            shop_domain, subscription_gid, state, grace=self.grace, replaces_others=True
        )
        if outcome in (Outcome.MISSING, Outcome.REFUSED):
            return None  # not a charge this shop started here
        return state.status

    async def cancel(self, shop_domain: str, subscription: dict[str, Any]) -> str | None:
        subscription_gid = subscription["external_id"]
        shopify = await self.clients.shopify_for(shop_domain)
        try:
            await shopify.mutate(CANCEL_MUTATION, {"id": subscription_gid}, "appSubscriptionCancel")
        except UserErrors as refused:
            raise BillingRefused("Shopify refused to cancel: " + refused.messages[0]) from refused
        await apply_status(
            shop_domain, subscription_gid, SubscriptionStatus.CANCELLED, utcnow(), grace=self.grace
        )
        return None

    async def manage_url(self, shop_domain: str, subscription: dict[str, Any] | None) -> str | None:
        """Shopify charges the app on the shop's Shopify bill: its payment method is set there."""
        return self.iam.shopify.shop_url(shop_domain, "/admin/settings/billing")

    async def handle_app_subscription_update(self, event: InboxEventData) -> None:
        """`app_subscriptions/update`: the latest status wins, by Shopify's `updated_at`."""
        data = event.payload.get("app_subscription") or {}
        external_id = str(data.get("admin_graphql_api_id", ""))
        changed = data.get("updated_at")
        if not external_id or not event.shop_domain or not changed:
            return
        await apply_status(
            event.shop_domain,
            external_id,
            str(data.get("status", "")),
            datetime.fromisoformat(changed),
            grace=self.grace,
        )

    def topic_handlers(self) -> dict[str, TopicHandler]:
        return {"shopify:app_subscriptions/update": self.handle_app_subscription_update}

    async def aclose(self) -> None:
        """The Shopify client belongs to the identity context, which closes it."""
