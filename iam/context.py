"""What the identity services need, handed to them explicitly."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from shopify_app import ShopifyApp

from connectors.crm import CrmClient
from connectors.shopify import ShopifyClient
from connectors.templates import TemplatesClient
from iam.vault import Vault

# Work another domain starts for a shop, inside the transaction that records the event.
ShopHook = Callable[[str], Awaitable[None]]


@dataclass
class IamContext:
    vault: Vault
    shopify: ShopifyClient
    crm: CrmClient
    templates: TemplatesClient
    app_base_url: str
    # The current Shopify app secret first; the previous one during a rotation.
    shopify_secrets: tuple[str, ...]
    # Shopify's package (`shopifyapp`): app-home requests, token exchange and refresh.
    shopify_app: ShopifyApp
    # Concurrent refreshes of one shop's token inside this process wait for each other;
    # the database row lock does the same across processes.
    # Iam sits below the domains that act on these moments; onboarding wires them in.
    # App Bridge's script and the admin that frames the app home: Shopify's in production,
    # the sandbox's stand-ins in development and tests.
    app_bridge_url: str = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
    admin_origin: str = "https://admin.shopify.com"
    # The app's handle in admin URLs (`/store/{store}/apps/{handle}`), as in shopify.app.toml.
    app_handle: str = "funnelsync"
    on_installed: tuple[ShopHook, ...] = ()
    on_crm_account_ready: tuple[ShopHook, ...] = ()
    refresh_locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))

    @property
    def shopify_api_key(self) -> str:
        return self.shopify.client_id

    def admin_app_url(self, shop_domain: str) -> str:
        """The app inside the shop's admin (`https://admin.shopify.com/store/{store}/apps/{handle}`):
        where a merchant who left the iframe (Shopify's charge page) comes back to."""
        store = shop_domain.removesuffix(".myshopify.com")
        return f"{self.admin_origin}/store/{store}/apps/{self.app_handle}"

    @property
    def callback_url(self) -> str:
        return f"{self.app_base_url}/shopify/callback"
