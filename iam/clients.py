"""The external systems as one shop's own: `shopify = await clients.shopify_for(shop)`.

A bound client carries the shop's credentials: its Shopify token, its merchant's user in the
CRM and in the template service. Finding, refreshing and renewing them happens here and in
iam.tokens; the calls themselves, and the one retry a refused token earns, are the
connectors' (connectors.credentials).
"""

from __future__ import annotations

import asyncio

from connectors.crm import CrmUser
from connectors.oauth_service import IssuedToken
from connectors.shopify import ShopifyAdmin
from connectors.templates import TemplatesUser
from iam.context import IamContext
from iam.provisioning import account_token
from iam.tokens import shop_admin
from lib.clock import utcnow


class AccountTokens:
    """The merchant's user token in the CRM or the template service, for one binding.

    Read once when bound and kept, as a job or a request keeps it; renewed before it expires
    (a binding can outlive it: a catalog import) and when the service refuses it, once for
    all the calls that saw it refused.
    """

    def __init__(self, iam: IamContext, shop_domain: str, system: str, token: IssuedToken) -> None:
        self.iam = iam
        self.shop_domain = shop_domain
        self.system = system
        self._token = token
        self._renewing = asyncio.Lock()

    @classmethod
    async def load(cls, iam: IamContext, shop_domain: str, system: str) -> AccountTokens:
        """Raises AccountNotReady while the account is not set up."""
        return cls(iam, shop_domain, system, await account_token(iam, shop_domain, system))

    async def __call__(self, *, refused_token: str | None = None) -> str:
        async with self._renewing:
            if refused_token is not None and refused_token == self._token.access_token:
                # The service dropped it before its expiry: a fresh JWT bearer grant.
                self._token = await account_token(self.iam, self.shop_domain, self.system, renew=True)
            elif not self._token.usable_at(utcnow()):
                self._token = await account_token(self.iam, self.shop_domain, self.system)
            return self._token.access_token


class ShopClients:
    """Hands out clients bound to a shop (Shopify's `unauthenticated.admin(shop)`, and the same
    for the merchant's CRM and template service accounts)."""

    def __init__(self, iam: IamContext) -> None:
        self.iam = iam

    async def shopify_for(self, shop_domain: str) -> ShopifyAdmin:
        """The shop's Admin API. Nothing is read yet: each call reads the shop's current token,
        so an uninstalled shop fails (ShopNotConnected) at its first call, as before binding."""
        return shop_admin(self.iam, shop_domain)

    async def crm_for(self, shop_domain: str) -> CrmUser:
        """The CRM as the merchant's user; raises AccountNotReady while the account is not set up."""
        return CrmUser(self.iam.crm, await AccountTokens.load(self.iam, shop_domain, "crm"))

    async def templates_for(self, shop_domain: str) -> TemplatesUser:
        """The template service as the merchant's user; raises AccountNotReady while not set up."""
        return TemplatesUser(self.iam.templates, await AccountTokens.load(self.iam, shop_domain, "templates"))
