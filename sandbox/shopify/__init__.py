"""Shopify sandbox: Admin GraphQL API, OAuth, query-cost throttling, webhooks, install links."""

from sandbox.shopify.app import create_shopify_sandbox, sandbox_of
from sandbox.shopify.config import ShopifySandboxConfig

__all__ = ["ShopifySandboxConfig", "create_shopify_sandbox", "sandbox_of"]
