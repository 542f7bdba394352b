"""The alerts domain's tables on real databases built from the migrations."""

from __future__ import annotations

from enum import StrEnum

import pytest

from alerts.tables import AlertDigest, AlertSetting
from lib.clock import utcnow
from tests.support.enum_storage import assert_stored_as_values

pytestmark = pytest.mark.postgres


async def _digest(audience: StrEnum) -> int:
    rows = await AlertDigest.insert(
        AlertDigest(digest_key=f"{audience}:x", audience=audience, period_start=utcnow())
    ).returning(AlertDigest.id)
    return int(rows[0]["id"])


async def test_digest_audiences_are_stored_as_their_values(database: None) -> None:
    await assert_stored_as_values(AlertDigest.audience, _digest)


async def test_one_digest_per_key_and_one_setting_per_shop(database: None) -> None:
    await AlertDigest.insert(
        AlertDigest(digest_key="merchant:a:1", audience="merchant", period_start=utcnow())
    )
    with pytest.raises(Exception, match=r"(?i)unique"):
        await AlertDigest.insert(
            AlertDigest(digest_key="merchant:a:1", audience="merchant", period_start=utcnow())
        )
    await AlertSetting.insert(AlertSetting(shop_domain="a.myshopify.com"))
    with pytest.raises(Exception, match=r"(?i)unique"):
        await AlertSetting.insert(AlertSetting(shop_domain="a.myshopify.com"))
