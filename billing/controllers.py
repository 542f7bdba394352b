"""The merchant's billing page (plan, usage, upgrade/downgrade, cancel, payment problems).

Stripe's webhooks are not here: POST /webhooks/stripe is the job queue's intake
(jobqueue/intake.py), checked by StripeBilling.incoming_event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from billing.provider import Billing, BillingProvider
from billing.returns import ReturnTo, after, outcome_message
from billing.services import (
    BillingRefused,
    current_subscription,
    entitlements,
    payment_notice,
    subscribable_plan,
    subscribable_plans,
    subscription_of_shop,
)
from billing.tables import ProviderName, SubscriptionStatus
from billing.usage import FunnelUsageOf, synced_orders_this_month
from connectors.errors import ExternalServiceError, Rejected
from iam.controllers import AnyRequest, Iam, ShopDomain, app_address, current_shop, redirect_out
from lib.clock import utcnow
from lib.paths import local_path

log = structlog.get_logger("funnelsync.billing")

NOT_YOURS = "We could not find that subscription for your shop. Reload this page and try again."
Form = URLEncodedBody[dict[str, str]]


def billing_of(state: State) -> Billing:
    billing: Billing = state.billing
    return billing


async def billing_page_context(
    shop_domain: str, billing: Billing, funnel_usage_of: FunnelUsageOf, now: datetime
) -> dict[str, Any]:
    subscription = await current_subscription(shop_domain)
    usage = await funnel_usage_of(shop_domain)
    provider = billing.of(subscription["provider"]) if subscription else None
    return {
        "limits": await entitlements(shop_domain, now),
        "now": now,
        "live_funnels": usage.live_funnels,
        "synced_orders": await synced_orders_this_month(shop_domain, now),
        "most_upsells": usage.most_upsells_in_a_funnel,
        "subscription": subscription,
        "subscription_provider": provider.label if provider else None,
        "new_provider": billing.for_new_subscriptions().name,
        "payment_notice": await payment_notice(shop_domain, now),
        "plans": await subscribable_plans(),
    }


class BillingController(Controller):
    path = "/billing"
    dependencies = {"shop_domain": current_shop}

    async def _page(
        self,
        shop_domain: str,
        state: State,
        *,
        message: str | None = None,
        problem: str | None = None,
        status_code: int = 200,
        then: str | None = None,
    ) -> Template:
        context = await billing_page_context(shop_domain, billing_of(state), state.funnel_usage_of, utcnow())
        return Template(
            template_name="billing/billing.html",
            # `then`: the page the merchant came from (a funnel's Check answers), carried
            # through the plan forms and the provider's return URL, and linked back to.
            context={**context, "message": message, "problem": problem, "then": local_path(then)},
            status_code=status_code,
        )

    async def _unavailable(
        self,
        shop_domain: str,
        state: State,
        provider: BillingProvider,
        error: str,
        then: str | None = None,
    ) -> Template:
        log.warning("billing_provider_failed", shop=shop_domain, provider=provider.name, error=error)
        return await self._page(
            shop_domain,
            state,
            problem=f"{provider.label} did not answer. Try again in a minute.",
            status_code=503,
            then=then,
        )

    async def _named_subscription(self, shop_domain: str, data: dict[str, str]) -> dict[str, Any] | None:
        """The subscription a form names: it must be the shop's current one."""
        named = str(data.get("subscription", ""))
        subscription = await subscription_of_shop(shop_domain, named) if named else None
        current = await current_subscription(shop_domain)
        if subscription is None or current is None or current["id"] != subscription["id"]:
            return None
        return subscription

    @get("/")
    async def show(
        self,
        shop_domain: ShopDomain,
        state: State,
        outcome: FromQuery[str | None] = None,
        then: FromQuery[str | None] = None,
    ) -> Template:
        return await self._page(shop_domain, state, message=outcome_message(outcome), then=then)

    @post("/subscribe", status_code=303)
    async def subscribe(
        self, request: AnyRequest, iam: Iam, shop_domain: ShopDomain, state: State, data: Form
    ) -> Response[Any]:
        billing = billing_of(state)
        provider = billing.for_new_subscriptions()
        current = await current_subscription(shop_domain)
        back = ReturnTo(app_address(request, iam), str(data.get("then", "")))
        if data.get("subscription") and await self._named_subscription(shop_domain, data) is None:
            return await self._page(shop_domain, state, problem=NOT_YOURS, status_code=400, then=back.then)
        try:
            plan = await subscribable_plan(str(data.get("plan", "")))
            if current is not None and current["provider"] != provider.name:
                # A change of plan stays with the provider that charges the shop today.
                provider = billing.of(current["provider"]) or provider
            next_url = await provider.start(shop_domain, plan, current, back)
        except BillingRefused as refused:
            return await self._page(shop_domain, state, problem=str(refused), status_code=400, then=back.then)
        except Rejected as exc:
            log.warning("billing_provider_refused", shop=shop_domain, provider=provider.name, error=str(exc))
            problem = f"{provider.label} refused the change: {str(exc).split(': ', 1)[-1]}"
            return await self._page(shop_domain, state, problem=problem, status_code=400, then=back.then)
        except ExternalServiceError as exc:
            return await self._unavailable(shop_domain, state, provider, str(exc), back.then)
        return redirect_out(request, iam, next_url)

    async def _returned(
        self, shop_domain: str, state: State, provider_name: str, query: dict[str, str], then: str | None
    ) -> Redirect:
        """Records what the provider says, then on to `then` after an upgrade (checked again:
        the query is anyone's), else to the billing page with the outcome."""
        provider = billing_of(state).of(provider_name)
        if provider is None:
            return Redirect("/billing/")
        try:
            status = await provider.complete(shop_domain, query)
        except ExternalServiceError:
            status = SubscriptionStatus.PENDING  # the webhook will tell us
        return Redirect(after(status or SubscriptionStatus.PENDING, then))

    @get("/return")
    async def returned(
        self,
        shop_domain: ShopDomain,
        state: State,
        charge_id: FromQuery[str] = "",
        then: FromQuery[str | None] = None,
    ) -> Redirect:
        """Back from Shopify's charge confirmation page."""
        return await self._returned(shop_domain, state, ProviderName.SHOPIFY, {"charge_id": charge_id}, then)

    @get("/checkout/return")
    async def checkout_returned(
        self,
        shop_domain: ShopDomain,
        state: State,
        session_id: FromQuery[str] = "",
        then: FromQuery[str | None] = None,
    ) -> Redirect:
        """Back from Stripe's hosted checkout."""
        return await self._returned(shop_domain, state, ProviderName.STRIPE, {"session_id": session_id}, then)

    @post("/cancel", status_code=303)
    async def cancel(
        self, request: AnyRequest, iam: Iam, shop_domain: ShopDomain, state: State, data: Form
    ) -> Response[Any]:
        subscription = await self._named_subscription(shop_domain, data)
        if subscription is None:
            return await self._page(shop_domain, state, problem=NOT_YOURS, status_code=400)
        provider = billing_of(state).of(subscription["provider"])
        if provider is None:
            return await self._page(shop_domain, state, problem=NOT_YOURS, status_code=400)
        try:
            next_url = await provider.cancel(shop_domain, subscription)
        except BillingRefused as refused:
            return await self._page(shop_domain, state, problem=str(refused), status_code=400)
        except ExternalServiceError as exc:
            return await self._unavailable(shop_domain, state, provider, str(exc))
        return redirect_out(request, iam, next_url or "/billing/")

    @get("/manage")
    async def manage(
        self, request: AnyRequest, iam: Iam, shop_domain: ShopDomain, state: State
    ) -> Response[Any]:
        """To the provider's page for the payment method (Stripe's portal, Shopify's billing)."""
        subscription = await current_subscription(shop_domain)
        billing = billing_of(state)
        provider = billing.of(subscription["provider"]) if subscription else billing.for_new_subscriptions()
        if provider is None:
            return Redirect("/billing/")
        try:
            url = await provider.manage_url(shop_domain, subscription)
        except ExternalServiceError as exc:
            return await self._unavailable(shop_domain, state, provider, str(exc))
        return redirect_out(request, iam, url or "/billing/", status_code=302)
