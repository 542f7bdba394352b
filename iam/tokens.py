"""Shopify tokens: stored encrypted, refreshed before expiry and on 401, rotated atomically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from piccolo.columns import Column
from piccolo.engine.postgres import PostgresEngine

from connectors.shopify import ShopifyAdmin, TokenGrant
from iam.context import IamContext
from iam.tables import Shop
from lib.db import write_transaction

REFRESH_AHEAD = timedelta(minutes=5)


class ShopNotConnected(Exception):
    """The shop has no usable token: it uninstalled, or its refresh token expired."""


def utcnow() -> datetime:
    return datetime.now(tz=UTC)


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


async def _token_row(shop_domain: str, *, lock: bool = False) -> dict[str, object]:
    query = Shop.select(
        Shop.access_token,
        Shop.access_token_expires_at,
        Shop.refresh_token,
        Shop.refresh_token_expires_at,
        Shop.token_version,
    ).where(Shop.domain == shop_domain)
    if lock and isinstance(Shop._meta.db, PostgresEngine):
        query = query.lock_rows("UPDATE", of=(Shop,))
    row = await query.first()
    if row is None or row["access_token"] is None:
        raise ShopNotConnected(shop_domain)
    return row


def _fresh(row: dict[str, object], now: datetime) -> bool:
    expires_at = row["access_token_expires_at"]
    return expires_at is None or (isinstance(expires_at, datetime) and expires_at > now + REFRESH_AHEAD)


async def shop_access_token(ctx: IamContext, shop_domain: str, *, refused_token: str | None = None) -> str:
    """A usable access token for the shop, refreshing it first when needed.

    `refused_token` is the token Shopify just answered 401 to: it is refreshed even if
    it looks fresh, unless another caller already replaced it.
    """
    decrypt_access = token_purpose(shop_domain, "access_token")
    row = await _token_row(shop_domain)
    current = ctx.vault.decrypt(str(row["access_token"]), decrypt_access)
    if _fresh(row, utcnow()) and current != refused_token:
        return current
    async with ctx.refresh_locks[shop_domain], write_transaction():
        row = await _token_row(shop_domain, lock=True)
        current = ctx.vault.decrypt(str(row["access_token"]), decrypt_access)
        if _fresh(row, utcnow()) and current != refused_token:
            return current  # someone refreshed while we waited
        if row["refresh_token"] is None:
            raise ShopNotConnected(shop_domain)
        refresh_expires = row["refresh_token_expires_at"]
        if isinstance(refresh_expires, datetime) and refresh_expires <= utcnow():
            raise ShopNotConnected(shop_domain)
        refresh_token = ctx.vault.decrypt(
            str(row["refresh_token"]), token_purpose(shop_domain, "refresh_token")
        )
        grant = await ctx.shopify.refresh(shop_domain, refresh_token, utcnow())
        # The old refresh token is spent now: the new pair must be stored before anything
        # else can fail, in the same transaction that holds the row lock.
        await Shop.update(token_columns(ctx, shop_domain, grant)).where(Shop.domain == shop_domain)
        return grant.access_token


def shop_admin(ctx: IamContext, shop_domain: str) -> ShopifyAdmin:
    """The Admin API bound to the shop. Each call reads the stored token (refreshed before
    expiry), so a binding held through a long job never sends an expired one; a token Shopify
    refuses is refreshed once and the call sent again."""
    return ShopifyAdmin(ctx.shopify, shop_domain, partial(shop_access_token, ctx, shop_domain))
