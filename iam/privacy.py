"""What identity and access forgets of a shop or a customer, and the record of each request.

A shop's row (with the owner's name and email and its tokens), its CRM and page-builder
accounts, sessions and install states go on shop/redact. `PrivacyRequest` rows stay as the
record of what was asked and done (`PRIVACY_RECORD_RETENTION`), but a data request's export
of a customer's data is emptied when that customer, or the whole shop, is redacted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from iam.sessions import end_sessions_of_shop
from iam.tables import (
    AdminSession,
    AdminSignInThrottle,
    AdminUser,
    AuditEntry,
    ExternalAccount,
    MerchantSession,
    OAuthState,
    PrivacyRequest,
    Shop,
)

DATA_REQUEST = "customers/data_request"
# Long enough to show what was done with any request a merchant or an authority asks about
# within the usual limitation period; then the record (a customer's id among it) goes.
PRIVACY_RECORD_RETENTION = timedelta(days=3 * 365)

SHOP_TABLES_FORGOTTEN = (Shop, ExternalAccount, OAuthState, MerchantSession)
SHOP_TABLES_KEPT = (PrivacyRequest,)
NO_SHOP_DATA = (AdminUser, AdminSession, AdminSignInThrottle, AuditEntry)


async def forget_shop(shop_domain: str) -> int:
    """The shop, its accounts, sessions and install states, and the exports of its data
    requests; returns how many rows went (or were emptied)."""
    removed = await end_sessions_of_shop(shop_domain)
    states = (
        await OAuthState.delete()
        .where(OAuthState.shop_domain == shop_domain)
        .returning(OAuthState.state_hash)
    )
    shops = await Shop.select(Shop.id).where(Shop.domain == shop_domain)
    shop_ids = [row["id"] for row in shops]
    if shop_ids:
        # Deleted outright rather than left to the cascade, which SQLite applies only on
        # connections that enable foreign keys.
        accounts = (
            await ExternalAccount.delete()
            .where(ExternalAccount.shop.is_in(shop_ids))
            .returning(ExternalAccount.id)
        )
        removed += len(accounts)
        await Shop.delete().where(Shop.id.is_in(shop_ids))
    exports = await _empty_exports(PrivacyRequest.shop_domain == shop_domain)
    return removed + len(states) + len(shop_ids) + exports


async def forget_customer(shop_domain: str, customer_id: str | None) -> int:
    """Empties the exports made for the customer's data requests; returns how many."""
    if not customer_id:
        return 0
    return await _empty_exports(
        (PrivacyRequest.shop_domain == shop_domain) & (PrivacyRequest.customer_id == customer_id)
    )


async def _empty_exports(where: Any) -> int:
    rows = (
        await PrivacyRequest.update({PrivacyRequest.export: {}})
        .where(where & (PrivacyRequest.topic == DATA_REQUEST))
        .returning(PrivacyRequest._meta.primary_key)
    )
    return len(rows)


async def record_request(
    shop_domain: str,
    topic: str,
    outcome: str,
    *,
    customer_id: str | None = None,
    export: dict[str, Any] | None = None,
) -> None:
    await PrivacyRequest.insert(
        PrivacyRequest(
            shop_domain=shop_domain,
            topic=topic,
            customer_id=customer_id,
            export=export or {},
            outcome=outcome,
        )
    )


async def prune_privacy_records(now: datetime) -> int:
    """Privacy request records older than PRIVACY_RECORD_RETENTION; returns how many went."""
    rows = (
        await PrivacyRequest.delete()
        .where(PrivacyRequest.created_at < now - PRIVACY_RECORD_RETENTION)
        .returning(PrivacyRequest._meta.primary_key)
    )
    return len(rows)
