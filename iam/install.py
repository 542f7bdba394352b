"""Installing the app: the Shopify OAuth round trip and the custom-app token connection."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from piccolo.columns import Column

from connectors.errors import ExternalServiceError
from connectors.shopify import TokenGrant
from iam.context import IamContext
from iam.provisioning import enqueue_setup
from iam.scopes import REQUIRED_SCOPES, missing_scopes
from iam.tables import OAuthState, PlanTier, Shop, ShopConnection
from iam.tokens import resume_waiting_jobs, token_columns
from lib.clock import utcnow
from lib.db import write_transaction

STATE_LIFETIME = timedelta(minutes=10)

SHOP_QUERY = """
query ShopForConnection {
  shop { name email myshopifyDomain plan { displayName shopifyPlus partnerDevelopment } }
  currentAppInstallation { accessScopes { handle } }
}
"""


START_AGAIN = "Start the installation again from your Shopify admin."


class InstallRefused(Exception):
    """The install cannot go on; the message is for the merchant, the hint says what to do."""

    def __init__(self, message: str, hint: str = START_AGAIN) -> None:
        super().__init__(message)
        self.hint = hint


class MissingScopes(InstallRefused):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "Shopify did not grant every permission FunnelSync needs.",
            "Approve all requested permissions when you install again.",
        )
        self.missing = missing


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def begin_install(ctx: IamContext, shop_domain: str, browser_secret: str) -> str:
    """Records a single-use state bound to this browser; returns Shopify's authorize URL."""
    state = secrets.token_urlsafe(32)
    await OAuthState.insert(
        OAuthState(
            state_hash=_digest(state),
            browser_hash=_digest(browser_secret),
            shop_domain=shop_domain,
            expires_at=utcnow() + STATE_LIFETIME,
        )
    )
    query = urlencode(
        {
            "client_id": ctx.shopify_api_key,
            "scope": ",".join(REQUIRED_SCOPES),
            "redirect_uri": ctx.callback_url,
            "state": state,
        }
    )
    return ctx.shopify.shop_url(shop_domain, f"/admin/oauth/authorize?{query}")


async def consume_state(state: str, browser_secret: str | None, shop_domain: str) -> None:
    """Uses the state up, or says why it cannot be used."""
    if not state:
        raise InstallRefused("The install link is missing its security state.")
    rows = (
        await OAuthState.update({OAuthState.used_at: utcnow()})
        .where(
            (OAuthState.state_hash == _digest(state))
            & OAuthState.used_at.is_null()
            & (OAuthState.expires_at > utcnow())
        )
        .returning(OAuthState.browser_hash, OAuthState.shop_domain)
    )
    if not rows:
        raise InstallRefused("This install link has expired or was already used.")
    row = rows[0]
    if browser_secret is None or not secrets.compare_digest(row["browser_hash"], _digest(browser_secret)):
        raise InstallRefused(
            "This install was started in another browser.",
            "Start the installation again from your Shopify admin in this browser.",
        )
    if row["shop_domain"] != shop_domain:
        raise InstallRefused("The install link belongs to a different store.")


async def complete_install(ctx: IamContext, shop_domain: str, code: str) -> None:
    """Exchanges the code for an expiring offline token and records the installed shop."""
    try:
        grant = await ctx.shopify.exchange_code(shop_domain, code, utcnow())
    except ExternalServiceError as exc:
        raise InstallRefused(
            "Shopify did not confirm the installation.",
            "Shopify may be busy or the link was already used. Start the installation again.",
        ) from exc
    missing = missing_scopes(grant.scopes)
    if missing:
        raise MissingScopes(missing)
    await save_connected_shop(ctx, shop_domain, grant, connection=ShopConnection.OAUTH)


async def save_connected_shop(
    ctx: IamContext,
    shop_domain: str,
    grant: TokenGrant,
    *,
    connection: str,
    name: str = "",
    plan_tier: str | None = None,
) -> None:
    """Creates or updates the shop with its new tokens and queues its setup, atomically.

    A reinstall keeps the shop's row, so its funnels and accounts stay attached.
    """
    now = utcnow()
    async with write_transaction():
        existing = await Shop.select(Shop.id).where(Shop.domain == shop_domain).first()
        if existing is None:
            await Shop.insert(Shop(domain=shop_domain, installed_at=now))
        values: dict[Column | str, Any] = {
            **token_columns(ctx, shop_domain, grant),
            Shop.connection: connection,
            Shop.api_version: ctx.shopify.api_version,
            Shop.installed_at: now,
            Shop.uninstalled_at: None,
        }
        if name:
            values[Shop.name] = name
        if plan_tier:
            values[Shop.plan_tier] = plan_tier
        await Shop.update(values).where(Shop.domain == shop_domain)
        await enqueue_setup(ctx, shop_domain)
        await resume_waiting_jobs(shop_domain)  # jobs that waited for a lost Shopify access


@dataclass(frozen=True)
class ShopFacts:
    name: str
    email: str
    plan_tier: str


def plan_tier_of(display_name: str, shopify_plus: bool) -> str:
    """Shopify's plan names to the rate-limit tiers of seeds/002."""
    name = display_name.lower()
    if "enterprise" in name or "commerce components" in name:
        return PlanTier.ENTERPRISE
    if shopify_plus or "plus" in name:
        return PlanTier.PLUS
    if "advanced" in name:
        return PlanTier.ADVANCED
    return PlanTier.STANDARD


async def connect_with_access_token(ctx: IamContext, shop_domain: str, access_token: str) -> ShopFacts:
    """The custom-app way in (seeds/002): an Admin API token, checked against the shop first."""
    result = await ctx.shopify.graphql(shop_domain, access_token, SHOP_QUERY)
    shop = result.data["shop"]
    granted = frozenset(
        str(scope["handle"]) for scope in result.data["currentAppInstallation"]["accessScopes"]
    )
    missing = missing_scopes(granted)
    if missing:
        raise MissingScopes(missing)
    facts = ShopFacts(
        name=str(shop["name"]),
        email=str(shop.get("email") or ""),
        plan_tier=plan_tier_of(str(shop["plan"]["displayName"]), bool(shop["plan"]["shopifyPlus"])),
    )
    grant = TokenGrant(
        access_token=access_token,
        scopes=granted,
        access_token_expires_at=None,
        refresh_token=None,
        refresh_token_expires_at=None,
    )
    await save_connected_shop(
        ctx,
        shop_domain,
        grant,
        connection=ShopConnection.ACCESS_TOKEN,
        name=facts.name,
        plan_tier=facts.plan_tier,
    )
    return facts
