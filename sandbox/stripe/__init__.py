"""Stripe sandbox: the API subset the product uses (products, prices, customers, Checkout,
billing portal, subscriptions, invoices, events), hosted Checkout and portal pages, and
signed webhooks with retries and faults."""

from sandbox.stripe.app import create_stripe_sandbox, stripe_sandbox_of
from sandbox.stripe.config import StripeSandboxConfig, WebhookEndpointConfig

__all__ = ["StripeSandboxConfig", "WebhookEndpointConfig", "create_stripe_sandbox", "stripe_sandbox_of"]
