"""A Litestar session store backed by the MerchantSession table.

Sessions live in the app's database so every app process sees the same ones and
uninstalling a shop can end all of its sessions in one statement.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from litestar.stores.base import Store

from iam.tables import MerchantSession

SESSION_SHOP_KEY = "shop"


def _now() -> datetime:
    return datetime.now(tz=UTC)


def _shop_of(value: bytes) -> str | None:
    try:
        data = json.loads(value)
    except ValueError:
        return None
    shop = data.get(SESSION_SHOP_KEY) if isinstance(data, dict) else None
    return shop if isinstance(shop, str) else None


class DatabaseSessionStore(Store):
    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        if isinstance(expires_in, int):
            expires_in = timedelta(seconds=expires_in)
        expires_at = _now() + expires_in if expires_in is not None else None
        await MerchantSession.insert(
            MerchantSession(key=key, data=data, expires_at=expires_at, shop_domain=_shop_of(data))
        ).on_conflict(
            target=MerchantSession.key,
            action="DO UPDATE",
            values=[MerchantSession.data, MerchantSession.expires_at, MerchantSession.shop_domain],
        )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        row = (
            await MerchantSession.select(MerchantSession.data, MerchantSession.expires_at)
            .where(MerchantSession.key == key)
            .first()
        )
        if row is None:
            return None
        if row["expires_at"] is not None and row["expires_at"] <= _now():
            await self.delete(key)
            return None
        if renew_for is not None:
            await self.set(key, row["data"], renew_for)
        return bytes(row["data"])

    async def delete(self, key: str) -> None:
        await MerchantSession.delete().where(MerchantSession.key == key)

    async def delete_all(self) -> None:
        await MerchantSession.delete(force=True)

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        row = (
            await MerchantSession.select(MerchantSession.expires_at).where(MerchantSession.key == key).first()
        )
        if row is None or row["expires_at"] is None:
            return None
        return max(0, int((row["expires_at"] - _now()).total_seconds()))


async def end_sessions_of_shop(shop_domain: str) -> int:
    deleted = (
        await MerchantSession.delete()
        .where(MerchantSession.shop_domain == shop_domain)
        .returning(MerchantSession.id)
    )
    return len(deleted)
