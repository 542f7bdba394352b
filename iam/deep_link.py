"""The one-click sign-in to the CRM: a single-use login link minted on demand."""

from __future__ import annotations

from connectors.errors import Unauthorized
from iam.context import IamContext
from iam.provisioning import account_user_token


async def crm_login_url(ctx: IamContext, shop_domain: str, redirect_path: str | None = None) -> str:
    """Asks the CRM for a link valid at most 60 s. The URL is a credential: never log or show it."""
    token = await account_user_token(ctx, shop_domain, "crm")
    try:
        link = await ctx.crm.create_login_link(token, redirect_path)
    except Unauthorized:
        # The CRM dropped the token before its expiry: one fresh JWT bearer grant.
        token = await account_user_token(ctx, shop_domain, "crm", renew=True)
        link = await ctx.crm.create_login_link(token, redirect_path)
    return link.url
