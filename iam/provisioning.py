"""Signing the merchant up to the CRM and the template service, idempotently, in the background.

With its client-credentials token the app finds the merchant's account by external id
(the shop domain) or creates it, then obtains a user token with the JWT bearer grant.
Jobs retry with backoff; the merchant watches the progress and can retry a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from connectors.errors import ExternalServiceError, RateLimited, Rejected
from connectors.oauth_service import AccountServiceClient, IssuedToken
from iam.context import IamContext
from iam.errors import AccountNotReady
from iam.tables import AccountStatus, AccountSystem, ExternalAccount, Shop
from iam.tokens import shop_admin
from jobqueue.jobs import JobContext, PermanentJobError, RetryLater, enqueue
from lib.clock import utcnow
from lib.db import write_transaction

log = structlog.get_logger("funnelsync.provisioning")

JOB_PROVISION_ACCOUNT = "iam.provision_account"
PROVISION_MAX_ATTEMPTS = 6

SYSTEM_LABELS = {AccountSystem.CRM: "CRM account", AccountSystem.TEMPLATES: "Page builder account"}

SHOP_DETAILS_QUERY = """
query ShopDetails { shop { name email plan { displayName shopifyPlus } } }
"""


def client_for(ctx: IamContext, system: str) -> AccountServiceClient:
    return ctx.crm if system == AccountSystem.CRM else ctx.templates


async def enqueue_setup(ctx: IamContext, shop_domain: str) -> None:
    """Queues both sign-ups and what other domains start on install; call inside the install's
    transaction."""
    shop = await Shop.select(Shop.id).where(Shop.domain == shop_domain).first()
    assert shop is not None, "the shop row is written before its setup is queued"
    for system in SYSTEM_LABELS:
        await ExternalAccount.insert(
            ExternalAccount(shop=shop["id"], system=system, status=AccountStatus.PENDING, attempts=0)
        ).on_conflict(
            target=(ExternalAccount.shop, ExternalAccount.system),
            action="DO UPDATE",
            values=[ExternalAccount.status, ExternalAccount.attempts],
        )
        await enqueue_provisioning(shop_domain, system)
    for start in ctx.on_installed:
        await start(shop_domain)


async def enqueue_provisioning(shop_domain: str, system: str) -> None:
    await enqueue(
        JOB_PROVISION_ACCOUNT,
        {"system": system},
        shop_domain=shop_domain,
        ordering_key=f"provision:{shop_domain}:{system}",
        max_attempts=PROVISION_MAX_ATTEMPTS,
    )


async def _account_filter(shop_domain: str, system: str) -> Any:
    shop = await Shop.select(Shop.id).where(Shop.domain == shop_domain).first()
    if shop is None:
        raise AccountNotReady(shop_domain, system)
    return (ExternalAccount.shop == shop["id"]) & (ExternalAccount.system == system)


async def _shop_details(ctx: IamContext, shop_domain: str) -> dict[str, Any]:
    row = await Shop.select(Shop.name, Shop.email).where(Shop.domain == shop_domain).first()
    if row and row["name"] and row["email"]:
        return row
    result = await shop_admin(ctx, shop_domain).graphql(SHOP_DETAILS_QUERY)
    shop = result.data["shop"]
    details = {"name": str(shop["name"]), "email": str(shop.get("email") or "")}
    await Shop.update({Shop.name: details["name"], Shop.email: details["email"]}).where(
        Shop.domain == shop_domain
    )
    return details


async def _record_failure(where: Any, status: str, attempt: int, message: str) -> None:
    await ExternalAccount.update(
        {
            ExternalAccount.status: status,
            ExternalAccount.attempts: attempt,
            ExternalAccount.last_error: message,
            ExternalAccount.updated_at: utcnow(),
        }
    ).where(where)


def _merchant_message(system: str, exc: Exception) -> str:
    label = "the CRM" if system == AccountSystem.CRM else "the page builder"
    if isinstance(exc, Rejected):
        return f"{label.capitalize()} refused the sign-up: {exc}"
    if isinstance(exc, ExternalServiceError):
        return f"We could not reach {label} ({exc}). We keep trying."
    return f"Setting up {label} failed unexpectedly ({type(exc).__name__})."


async def provision_account(ctx: IamContext, job: JobContext) -> None:
    shop_domain = str(job.shop_domain)
    system = str(job.payload["system"])
    where = await _account_filter(shop_domain, system)
    client = client_for(ctx, system)
    try:
        details = await _shop_details(ctx, shop_domain)
        account = await client.find_account(shop_domain)
        if account is None:
            account = await client.create_account(
                shop_domain, details["email"], details["name"] or shop_domain
            )
        token = await client.user_token(account.id)
    except RateLimited as exc:
        raise RetryLater(exc.retry_after_seconds, str(exc)) from exc
    except Rejected as exc:
        # The service refused what we sent: the same request will not succeed later.
        await _record_failure(where, AccountStatus.FAILED, job.attempt, _merchant_message(system, exc))
        raise PermanentJobError(str(exc)) from exc
    except Exception as exc:
        status = AccountStatus.FAILED if job.is_last_attempt else AccountStatus.PENDING
        await _record_failure(where, status, job.attempt, _merchant_message(system, exc))
        raise
    async with write_transaction():
        await store_account_token(ctx, shop_domain, system, account.id, token, attempts=job.attempt)
        if system == AccountSystem.CRM:
            for start in ctx.on_crm_account_ready:
                await start(shop_domain)
    log.info("account_provisioned", shop=shop_domain, system=system)


def account_token_purpose(shop_domain: str, system: str) -> str:
    return f"shop:{shop_domain}:{system}:access_token"


async def store_account_token(
    ctx: IamContext, shop_domain: str, system: str, remote_id: str, token: IssuedToken, attempts: int
) -> None:
    where = await _account_filter(shop_domain, system)
    await ExternalAccount.update(
        {
            ExternalAccount.remote_id: remote_id,
            ExternalAccount.status: AccountStatus.READY,
            ExternalAccount.attempts: attempts,
            ExternalAccount.last_error: None,
            ExternalAccount.access_token: ctx.vault.encrypt(
                token.access_token, account_token_purpose(shop_domain, system)
            ),
            ExternalAccount.access_token_expires_at: token.expires_at,
            ExternalAccount.updated_at: utcnow(),
        }
    ).where(where)


async def account_token(
    ctx: IamContext, shop_domain: str, system: str, *, renew: bool = False
) -> IssuedToken:
    """The merchant's token in `system` with its expiry, renewed by a fresh JWT bearer grant when
    needed. Raises AccountNotReady while the account is not set up."""
    where = await _account_filter(shop_domain, system)
    row = (
        await ExternalAccount.select(
            ExternalAccount.remote_id, ExternalAccount.access_token, ExternalAccount.access_token_expires_at
        )
        .where(where)
        .first()
    )
    if row is None or row["remote_id"] is None:
        raise AccountNotReady(shop_domain, system)
    expires_at = row["access_token_expires_at"]
    if row["access_token"] and isinstance(expires_at, datetime) and not renew:
        current = IssuedToken(
            ctx.vault.decrypt(row["access_token"], account_token_purpose(shop_domain, system)), expires_at
        )
        if current.usable_at(utcnow()):
            return current
    token = await client_for(ctx, system).user_token(row["remote_id"])
    await store_account_token(ctx, shop_domain, system, row["remote_id"], token, attempts=0)
    return token


@dataclass(frozen=True)
class AccountProgress:
    system: str
    label: str
    status: str
    message: str | None


async def shop_of_crm_account(account_id: str) -> str | None:
    """The shop whose CRM user is `account_id` (CRM webhooks name the account, not the shop)."""
    row = (
        await ExternalAccount.select(ExternalAccount.shop.domain)
        .where((ExternalAccount.system == AccountSystem.CRM) & (ExternalAccount.remote_id == account_id))
        .first()
    )
    return str(row["shop.domain"]) if row else None


async def setup_progress(shop_domain: str) -> list[AccountProgress]:
    shop = await Shop.select(Shop.id).where(Shop.domain == shop_domain).first()
    if shop is None:
        return []
    rows = await ExternalAccount.select(
        ExternalAccount.system, ExternalAccount.status, ExternalAccount.last_error
    ).where(ExternalAccount.shop == shop["id"])
    by_system = {row["system"]: row for row in rows}
    return [
        AccountProgress(
            system,
            label,
            by_system.get(system, {}).get("status", AccountStatus.PENDING),
            by_system.get(system, {}).get("last_error"),
        )
        for system, label in SYSTEM_LABELS.items()
    ]


async def retry_failed_setup(shop_domain: str) -> int:
    """Queues a fresh sign-up for every failed account of the shop."""
    shop = await Shop.select(Shop.id).where(Shop.domain == shop_domain).first()
    if shop is None:
        return 0
    retried = 0
    async with write_transaction():
        failed = (
            await ExternalAccount.update(
                {
                    ExternalAccount.status: AccountStatus.PENDING,
                    ExternalAccount.last_error: None,
                    ExternalAccount.attempts: 0,
                }
            )
            .where((ExternalAccount.shop == shop["id"]) & (ExternalAccount.status == AccountStatus.FAILED))
            .returning(ExternalAccount.system)
        )
        for row in failed:
            await enqueue_provisioning(shop_domain, row["system"])
            retried += 1
    return retried
