"""Shopify tokens: stored encrypted, refreshed through Shopify's package before expiry and on 401,
rotated atomically."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial, wraps
from typing import Any

import structlog
from piccolo.columns import Column
from piccolo.engine.postgres import PostgresEngine
from shopify_app import TokenExchangeAccessToken, TokenExchangeResult

from connectors.errors import ExternalServiceError, Rejected
from connectors.shopify import SYSTEM, ShopifyAdmin, TokenGrant
from iam.context import IamContext
from iam.tables import Shop
from jobqueue.jobs import JobContext, JobHandler, RetryLater
from jobqueue.tables import Job, JobStatus
from lib import metrics
from lib.clock import utcnow
from lib.db import write_transaction

SHOP_SUFFIX = ".myshopify.com"
# The package's answers that mean Shopify no longer accepts the stored pair though the app may
# still be installed (the refresh token expired or was revoked): the pair is deleted, and a
# token exchange with an ID token (opening the app from the admin) gets a new one.
ACCESS_LOST = frozenset({"invalid_grant", "refresh_token_expired"})
# The package's answer for an app Shopify says is not installed (or credentials it refuses).
DISCONNECTED = frozenset({"invalid_client"})
UNREACHABLE = frozenset({"network_error", "server_error"})
# The package refreshes a token within 60 s of its expiry; beyond this, no lock is needed.
LOCK_FREE_MARGIN = timedelta(seconds=90)

log = structlog.get_logger("funnelsync.tokens")

# What sync health says, and what a job waiting for it records, while Shopify access is lost.
SHOPIFY_ACCESS_EXPIRED = "Shopify access expired: open the app in your Shopify admin to reconnect"
# A custom app's Admin API token cannot be exchanged anew: only the merchant can paste another.
CUSTOM_APP_ACCESS_REFUSED = "Shopify refused your Admin API access token: connect again with a new one"
# A job of such a shop looks again this often (a database read, no call to Shopify), and gives
# up (a dead letter saying why, replayable) when nobody reconnected for this long.
ACCESS_RECHECK = timedelta(minutes=15)
ACCESS_WAIT_AT_MOST = timedelta(days=7)


class ShopNotConnected(Exception):
    """The shop has no usable token: it uninstalled, or Shopify stopped accepting the stored one
    (`access_lost`: the refresh token expired or was revoked while the app stayed installed;
    opening the app from the Shopify admin exchanges a new one)."""

    def __init__(self, shop_domain: str, *, access_lost: bool = False) -> None:
        super().__init__(shop_domain)
        self.shop_domain = shop_domain
        self.access_lost = access_lost


def token_lock_key(shop_domain: str) -> str:
    """The name PostgreSQL's advisory lock on a shop's tokens is taken by (hashed to its key)."""
    return f"shop-token:{shop_domain}"


@asynccontextmanager
async def shop_token_lock(ctx: IamContext, shop_domain: str) -> AsyncIterator[None]:
    """One change of a shop's tokens at a time (refresh, exchange, install by exchange), across
    processes: the process's lock, then a write transaction holding PostgreSQL's
    transaction-level advisory lock on the shop, released at commit or rollback. It works
    before the shop has a row to lock (a first install by token exchange). SQLite serves one
    process, and its write transaction (BEGIN IMMEDIATE) already lets one writer in."""
    async with ctx.refresh_locks[shop_domain], write_transaction():
        if isinstance(Shop._meta.db, PostgresEngine):
            await Shop.raw(
                "SELECT pg_advisory_xact_lock(hashtextextended({}, 0))", token_lock_key(shop_domain)
            )
        yield


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
        Shop.access_lost_at: None,
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
        Shop.access_lost_at,
    ).where(Shop.domain == shop_domain)
    if lock and isinstance(Shop._meta.db, PostgresEngine):
        query = query.lock_rows("UPDATE", of=(Shop,))
    row = await query.first()
    if row is None or row["access_token"] is None:
        # No token, and no call to Shopify: a job of a shop whose access was lost waits here.
        raise ShopNotConnected(shop_domain, access_lost=row is not None and row["access_lost_at"] is not None)
    return row


async def forget_refused_tokens(shop_domain: str, token_version: object) -> None:
    """Deletes a token pair Shopify no longer accepts, and says since when (sync health shows it).
    Only the pair that was refused: one stored since (by an exchange) stays."""
    await Shop.update(
        {
            Shop.access_token: None,
            Shop.access_token_expires_at: None,
            Shop.refresh_token: None,
            Shop.refresh_token_expires_at: None,
            Shop.access_lost_at: utcnow(),
            Shop.token_version: Shop.token_version + 1,
        }
    ).where((Shop.domain == shop_domain) & (Shop.token_version == token_version))


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
    looks fresh, unless another caller already replaced it. One refresh per shop at a time,
    across processes (shop_token_lock; the row is locked too). A pair Shopify refuses for good
    (ACCESS_LOST, or a revoked token that never expires) is deleted: ShopNotConnected with
    `access_lost`, and no call to Shopify for the shop until a new token is stored.
    """
    decrypt_access = token_purpose(shop_domain, "access_token")
    row = await _token_row(shop_domain)
    current = ctx.vault.decrypt(str(row["access_token"]), decrypt_access)
    if current != refused_token and _clearly_fresh(row, utcnow()):
        return current
    async with shop_token_lock(ctx, shop_domain):
        row = await _token_row(shop_domain, lock=True)
        current = ctx.vault.decrypt(str(row["access_token"]), decrypt_access)
        refused = current == refused_token
        if refused and row["refresh_token"] is None:
            code = "revoked"  # a token that never expires was revoked
        else:
            result = await _refresh_if_due(ctx, shop_domain, row, current, refused=refused)
            code = result.log.code
            if result.ok:
                if result.access_token is None:
                    return current  # someone refreshed while we waited
                grant = grant_of(result.access_token)
                # The old refresh token is spent now: the new pair must be stored before anything
                # else can fail, in the same transaction that holds the locks.
                await Shop.update(token_columns(ctx, shop_domain, grant)).where(Shop.domain == shop_domain)
                return grant.access_token
            metrics.token_refresh_failures.labels("shopify", str(code)).inc()
            if code in DISCONNECTED:
                raise ShopNotConnected(shop_domain)
            if code in UNREACHABLE:
                raise ExternalServiceError(SYSTEM, f"token refresh failed ({code})")
            if code not in ACCESS_LOST:
                # Shopify's status, for callers that tell a revoked app (400/401) from other refusals.
                status = result.http_logs[-1].res.status if result.http_logs else None
                raise Rejected(SYSTEM, f"token refresh refused ({code})", status_code=status)
        # Refused for good: deleted (committed with the lock's transaction, so raised after it).
        await forget_refused_tokens(shop_domain, row["token_version"])
    log.warning("shopify_access_lost", shop=shop_domain, code=code)
    raise ShopNotConnected(shop_domain, access_lost=True)


def waiting_for_shopify_access(handler: JobHandler) -> JobHandler:
    """A job of a shop whose Shopify access was lost waits for the merchant to reconnect instead
    of failing its attempts away: no attempt is used, Shopify is not called again (the tokens
    are deleted), and it runs as soon as a new token is stored (resume_waiting_jobs)."""

    @wraps(handler)
    async def run(job: JobContext) -> None:
        try:
            await handler(job)
        except ShopNotConnected as lost:
            if not lost.access_lost:
                raise
            raise RetryLater(
                ACCESS_RECHECK.total_seconds(), SHOPIFY_ACCESS_EXPIRED, wait_at_most=ACCESS_WAIT_AT_MOST
            ) from lost

    return run


async def resume_waiting_jobs(shop_domain: str) -> None:
    """The shop's jobs that waited for its Shopify access are due now (it has a token again)."""
    await Job.update({Job.run_at: utcnow()}).where(
        (Job.shop_domain == shop_domain)
        & (Job.status == JobStatus.QUEUED)
        & (Job.last_error == SHOPIFY_ACCESS_EXPIRED)
    )


def shop_admin(ctx: IamContext, shop_domain: str) -> ShopifyAdmin:
    """The Admin API bound to the shop. Each call reads the stored token (refreshed before
    expiry), so a binding held through a long job never sends an expired one; a token Shopify
    refuses is refreshed once and the call sent again."""
    return ShopifyAdmin(ctx.shopify, shop_domain, partial(shop_access_token, ctx, shop_domain))
