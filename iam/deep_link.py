"""The one-click sign-in to the CRM: a single-use login link minted on demand."""

from __future__ import annotations

from iam.clients import ShopClients


async def crm_login_url(clients: ShopClients, shop_domain: str, redirect_path: str | None = None) -> str:
    """Asks the CRM for a link valid at most 60 s. The URL is a credential: never log or show it.

    A token the CRM dropped before its expiry is renewed by the bound client (one fresh JWT
    bearer grant) and the link asked for again.
    """
    crm = await clients.crm_for(shop_domain)
    link = await crm.create_login_link(redirect_path)
    return link.url
