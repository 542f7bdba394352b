"""Expired sessions and old install states are removed; live ones stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar import Litestar

from iam.housekeeping import sweep_expired
from iam.tables import AdminSession, AdminSignInThrottle, MerchantSession, OAuthState
from lib.clock import utcnow
from tests.support.app import lifespan_of

pytestmark = pytest.mark.postgres


async def test_sweep_removes_only_what_has_expired(app: Litestar) -> None:
    now = utcnow()
    async with lifespan_of(app):
        await MerchantSession.insert(
            MerchantSession(key="old", data=b"{}", expires_at=now - timedelta(seconds=1)),
            MerchantSession(key="live", data=b"{}", expires_at=now + timedelta(hours=1)),
        )
        await AdminSession.insert(
            AdminSession(key="old-admin", data=b"{}", expires_at=now - timedelta(minutes=1))
        )
        await OAuthState.insert(
            OAuthState(
                state_hash="a" * 64, browser_hash="b", shop_domain="s", expires_at=now - timedelta(days=2)
            ),
            OAuthState(
                state_hash="c" * 64, browser_hash="d", shop_domain="s", expires_at=now - timedelta(minutes=5)
            ),
        )
        assert await sweep_expired() == 3
        assert [row["key"] for row in await MerchantSession.select(MerchantSession.key)] == ["live"]
        assert await AdminSession.count() == 0
        assert await OAuthState.count() == 1  # a recent one stays a day for troubleshooting


async def test_sweep_forgets_sign_in_failures_a_day_old_and_keeps_recent_ones(app: Litestar) -> None:
    now = utcnow()
    async with lifespan_of(app):
        await AdminSignInThrottle.insert(
            AdminSignInThrottle(
                key="source:203.0.113.9", failures=12, last_failure_at=now - timedelta(hours=25)
            ),
            AdminSignInThrottle(
                key="account:admin@example.com",
                failures=6,
                last_failure_at=now - timedelta(minutes=2),
                next_allowed_at=now + timedelta(seconds=2),
            ),
        )
        assert await sweep_expired() == 1
        remaining = await AdminSignInThrottle.select(AdminSignInThrottle.key)
        assert [row["key"] for row in remaining] == ["account:admin@example.com"]
