"""Shopify tokens: stored encrypted, refreshed through Shopify's package before expiry and on 401,
rotated atomically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from piccolo.columns import Column
from piccolo.engine.postgres import PostgresEngine
from shopify_app import TokenExchangeAccessToken, TokenExchangeResult

from connectors.errors import ExternalServiceError, Rejected
from connectors.shopify import SYSTEM, ShopifyAdmin, TokenGrant
from iam.context import IamContext
from iam.tables import Shop
from lib import metrics
from lib.clock import utcnow
from lib.db import write_transaction

SHOP_SUFFIX = ".myshopify.com"
# The package's answers that mean the shop has no usable token until it installs again.
DISCONNECTED = frozenset({"invalid_grant", "refresh_token_expired", "invalid_client"})
UNREACHABLE = frozenset({"network_error", "server_error"})
# The package refreshes a token within 60 s of its expiry; beyond this, no lock is needed.
LOCK_FREE_MARGIN = timedelta(seconds=90)


class ShopNotConnected(Exception):
    """The shop has no usable token: it uninstalled, or its refresh token expired."""


def token_purpose(shop_domain: str, column: str) -> str:
    return f"shop:{shop_domain}:{column}"


def token_columns(ctx: IamContext, shop_domain: str, grant: TokenGrant) -> dict[Column | str, Any]:
    """The Shop column values that store a grant, encrypted."""
    refresh = grant.refresh_token
    return {
        Shop.access_token: ctx.vault.encrypt(grant.access_token, token_purpose(shop_domain, "access_token")),
        Shop.access_token_expires_at: grant.access_token_expires_at,
        Shop.refresh_token: ctx.vault.encrypt(refresh, token_purpose(shop_domain, "refresh_token"))
        if refresh
        else None,
        Shop.refresh_token_expires_at: grant.refresh_token_expires_at,
        Shop.scopes: ",".join(sorted(grant.scopes)),
        Shop.token_version: Shop.token_version + 1,
    }


def _clearly_fresh(row: dict[str, object], now: datetime) -> bool:
    """A shortcut past the lock for a token far from its expiry (the package refreshes within
    LOCK_FREE_MARGIN of it). The package still decides, under the lock, whether to refresh."""
    expires_at = row["access_token_expires_at"]
    if expires_at is None:
        return row["refresh_token"] is None  # a token that never expires
    return isinstance(expires_at, datetime) and expires_at > now + LOCK_FREE_MARGIN


def shop_name(shop_domain: str) -> str:
    """The package's name for a shop: its myshopify subdomain."""
    return shop_domain.removesuffix(SHOP_SUFFIX)


def _iso(moment: object) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(moment, datetime) else None


def _parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def grant_of(token: TokenExchangeAccessToken) -> TokenGrant:
    """The package's access token as the grant we store."""
    return TokenGrant(
        access_token=token.token,
        scopes=frozenset(filter(None, token.scope.split(","))),
        access_token_expires_at=_parse_iso(token.expires),
        refresh_token=token.refresh_token or None,
        refresh_token_expires_at=_parse_iso(token.refresh_token_expires),
    )


async def _token_row(shop_domain: str, *, lock: bool = False) -> dict[str, object]:
    query = Shop.select(
        Shop.access_token,
        Shop.access_token_expires_at,
        Shop.refresh_token,
        Shop.refresh_token_expires_at,
        Shop.scopes,
        Shop.token_version,
    ).where(Shop.domain == shop_domain)
    if lock and isinstance(Shop._meta.db, PostgresEngine):
        query = query.lock_rows("UPDATE", of=(Shop,))
    row = await query.first()
    if row is None or row["access_token"] is None:
        raise ShopNotConnected(shop_domain)
    return row


async def _refresh_if_due(
    ctx: IamContext, shop_domain: str, row: dict[str, object], current: str, refused: bool
) -> TokenExchangeResult:
    """Shopify's package decides whether the stored token needs refreshing, and refreshes it.

    A token Shopify just refused is handed over without its expiry, so the package refreshes it
    whatever its expiry says (an expiring token with a refresh token always may be).
    """
    refresh_token = (
        ctx.vault.decrypt(str(row["refresh_token"]), token_purpose(shop_domain, "refresh_token"))
        if row["refresh_token"] is not None
        else None
    )
    stored = TokenExchangeAccessToken(
        access_mode="offline",
        shop=shop_name(shop_domain),
        token=current,
        scope=str(row["scopes"] or ""),
        refresh_token=refresh_token,
        expires=None if refused else _iso(row["access_token_expires_at"]),
        refresh_token_expires=_iso(row["refresh_token_expires_at"]),
        user=None,
    )
    return await ctx.shopify_app.refresh_token_exchanged_access_token_async(
        stored, http_client=ctx.shopify.http
    )


async def shop_access_token(ctx: IamContext, shop_domain: str, *, refused_token: str | None = None) -> str:
    """A usable access token for the shop, refreshed first when Shopify's package says so.

    `refused_token` is the token Shopify just answered 401 to: it is refreshed even if it
    looks fresh, unless another caller already replaced it. One refresh per shop at a time:
    a process lock, and a row lock across processes.
    """
    decrypt_access = token_purpose(shop_domain, "access_token")
    row = await _token_row(shop_domain)
    current = ctx.vault.decrypt(str(row["access_token"]), decrypt_access)
    if current != refused_token and _clearly_fresh(row, utcnow()):
        return current
    async with ctx.refresh_locks[shop_domain], write_transaction():
        row = await _token_row(shop_domain, lock=True)
        current = ctx.vault.decrypt(str(row["access_token"]), decrypt_access)
        refused = current == refused_token
        if refused and row["refresh_token"] is None:
            raise ShopNotConnected(shop_domain)  # a token that never expires was revoked
        result = await _refresh_if_due(ctx, shop_domain, row, current, refused=refused)
        if not result.ok:
            code = result.log.code
            metrics.token_refresh_failures.labels("shopify", str(code)).inc()
            if code in DISCONNECTED:
                raise ShopNotConnected(shop_domain)
            if code in UNREACHABLE:
                raise ExternalServiceError(SYSTEM, f"token refresh failed ({code})")
            # Shopify's status, for callers that tell a revoked app (400/401) from other refusals.
            status = result.http_logs[-1].res.status if result.http_logs else None
            raise Rejected(SYSTEM, f"token refresh refused ({code})", status_code=status)
        if result.access_token is None:
            return current  # someone refreshed while we waited
        grant = grant_of(result.access_token)
        # The old refresh token is spent now: the new pair must be stored before anything
        # else can fail, in the same transaction that holds the row lock.
        await Shop.update(token_columns(ctx, shop_domain, grant)).where(Shop.domain == shop_domain)
        return grant.access_token


def shop_admin(ctx: IamContext, shop_domain: str) -> ShopifyAdmin:
    """The Admin API bound to the shop. Each call reads the stored token (refreshed before
    expiry), so a binding held through a long job never sends an expired one; a token Shopify
    refuses is refreshed once and the call sent again."""
    return ShopifyAdmin(ctx.shopify, shop_domain, partial(shop_access_token, ctx, shop_domain))
