"""Removing what has expired: sessions (merchant and admin) and install states."""

from __future__ import annotations

from datetime import timedelta

from iam.tables import AdminSession, MerchantSession, OAuthState
from lib.clock import utcnow

# Used or expired install states stay a day for troubleshooting, then go.
OAUTH_STATE_RETENTION = timedelta(days=1)


async def sweep_expired() -> int:
    """Deletes expired sessions and old install states; returns how many rows went."""
    now = utcnow()
    removed = 0
    for table in (MerchantSession, AdminSession):
        rows = await table.delete().where(table.expires_at <= now).returning(table.id)
        removed += len(rows)
    states = (
        await OAuthState.delete()
        .where(OAuthState.expires_at <= now - OAUTH_STATE_RETENTION)
        .returning(OAuthState.state_hash)
    )
    return removed + len(states)
