"""The billing provider interface, and the providers an app runs with.

BILLING_PROVIDER chooses who charges new subscriptions (`shopify`, required for App Store
apps, or `stripe`); subscriptions already made keep being handled by the provider that
made them (each row names it), so switching providers strands nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from billing.returns import ReturnTo
from billing.shopify_billing import ShopifyBilling
from billing.stripe_billing import StripeBilling, StripeConfig
from billing.tables import ProviderName
from iam.clients import ShopClients
from jobqueue.inbox import TopicHandler


class BillingProvider(Protocol):
    """What the billing page asks of a provider. Every method is scoped by the shop of the
    merchant's session; `plan` is one of billing.services.subscribable_plans() (never an
    archived one) and `subscription` a row of that shop (billing.services.SUBSCRIPTION_COLUMNS)."""

    name: ProviderName  # as stored in Subscription.provider
    label: str  # as merchants read it

    async def start(
        self, shop_domain: str, plan: dict[str, Any], current: dict[str, Any] | None, back: ReturnTo
    ) -> str:
        """Starts subscribing to `plan` (or switching to it from `current`); returns the URL the
        merchant goes to next: the provider's page to approve or pay, or back to ours. The
        provider's return URLs are made by `back` (they keep its `then`)."""
        ...

    async def complete(self, shop_domain: str, query: Mapping[str, str]) -> str | None:
        """The merchant is back from the provider's page (its query string): records what the
        provider says and returns the subscription's status, None when there is nothing of
        this shop's to record."""
        ...

    async def cancel(self, shop_domain: str, subscription: dict[str, Any]) -> str | None:
        """Cancels, or returns the URL of the provider's page where the merchant cancels."""
        ...

    async def manage_url(self, shop_domain: str, subscription: dict[str, Any] | None) -> str | None:
        """Where the merchant updates the payment method (and, with Stripe, changes or cancels)."""
        ...

    def topic_handlers(self) -> dict[str, TopicHandler]:
        """Inbox topics ("{source}:{topic}") this provider's webhooks are applied by."""
        ...

    async def aclose(self) -> None: ...


@dataclass
class Billing:
    default: str
    providers: dict[str, BillingProvider]
    grace: timedelta

    def for_new_subscriptions(self) -> BillingProvider:
        return self.providers[self.default]

    def of(self, name: str) -> BillingProvider | None:
        return self.providers.get(name)

    @property
    def stripe(self) -> StripeBilling | None:
        provider = self.providers.get(ProviderName.STRIPE)
        return provider if isinstance(provider, StripeBilling) else None

    def topic_handlers(self) -> dict[str, TopicHandler]:
        handlers: dict[str, TopicHandler] = {}
        for provider in self.providers.values():
            handlers.update(provider.topic_handlers())
        return handlers

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()


def build_billing(
    *,
    default: str,
    clients: ShopClients,
    grace_days: int,
    test_charges: bool,
    stripe_config: StripeConfig | None,
) -> Billing:
    """Shopify is always there (its subscriptions and webhooks); Stripe when it has a key."""
    grace = timedelta(days=grace_days)
    providers: dict[str, BillingProvider] = {
        ProviderName.SHOPIFY: ShopifyBilling(clients, grace=grace, test_charges=test_charges)
    }
    if stripe_config is not None:
        providers[ProviderName.STRIPE] = StripeBilling(stripe_config, grace=grace)
    if default not in providers:
        raise ValueError(f"billing provider {default!r} is not configured")
    return Billing(default=default, providers=providers, grace=grace)
