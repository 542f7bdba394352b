"""Removing what has expired: sessions (merchant and admin), install states and admin sign-in
failures old enough to be forgotten."""

from __future__ import annotations

from datetime import timedelta

from iam.admin import FORGET_FAILURES_AFTER
from iam.tables import AdminSession, AdminSignInThrottle, MerchantSession, OAuthState
from lib.clock import utcnow

# Used or expired install states stay a day for troubleshooting, then go.
OAUTH_STATE_RETENTION = timedelta(days=1)


async def sweep_expired() -> int:
    """Deletes expired sessions, old install states and forgotten sign-in failures; returns how
    many rows went."""
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
    # A row whose last failure is this old counts from the start again anyway (iam.admin), and
    # its wait (an hour at most) is long over: keeping it would only let the table grow with
    # every address that ever failed.
    throttles = (
        await AdminSignInThrottle.delete()
        .where(AdminSignInThrottle.last_failure_at <= now - FORGET_FAILURES_AFTER)
        .returning(AdminSignInThrottle.id)
    )
    return removed + len(states) + len(throttles)
