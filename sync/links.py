"""Links between an entity's Shopify id and its CRM id, with the hash of what was last synced."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piccolo.columns import Column

from lib.clock import utcnow
from sync.mappers import content_hash
from sync.tables import SyncLink


@dataclass(frozen=True)
class Link:
    shopify_id: str | None
    crm_id: str | None
    content_hash: str
    # Shopify's updatedAt of the entity as last synced, where the flow records it.
    shopify_updated_at: datetime | None = None

    def unchanged(self, canonical: dict[str, Any]) -> bool:
        """True when this content is what both sides already hold (or our own write echoing)."""
        return self.content_hash == content_hash(canonical)

    def seen(self, shopify_updated_at: datetime | None) -> bool:
        """True when Shopify's entity as of `shopify_updated_at` is older than the one last
        synced: a webhook about it (a repeat or a late copy) tells nothing new.

        Shopify's times have whole seconds, so an edit in the same second as the last sync has
        the same time: equal is not proof of nothing new, and the caller looks closer.
        """
        return (
            shopify_updated_at is not None
            and self.shopify_updated_at is not None
            and shopify_updated_at < self.shopify_updated_at
        )


def _key(shop_domain: str, entity_type: str, remote_id: str | None) -> str | None:
    return f"{shop_domain}:{entity_type}:{remote_id}" if remote_id else None


async def _find(column: Any, key: str | None) -> Link | None:
    if key is None:
        return None
    row = (
        await SyncLink.select(
            SyncLink.shopify_id, SyncLink.crm_id, SyncLink.content_hash, SyncLink.shopify_updated_at
        )
        .where(column == key)
        .first()
    )
    if row is None:
        return None
    return Link(row["shopify_id"], row["crm_id"], row["content_hash"], row["shopify_updated_at"])


async def by_shopify_id(shop_domain: str, entity_type: str, shopify_id: str) -> Link | None:
    return await _find(SyncLink.shopify_key, _key(shop_domain, entity_type, shopify_id))


async def by_crm_id(shop_domain: str, entity_type: str, crm_id: str) -> Link | None:
    return await _find(SyncLink.crm_key, _key(shop_domain, entity_type, crm_id))


def _new_link(
    shop_domain: str,
    entity_type: str,
    shopify_id: str | None,
    crm_id: str | None,
    canonical: dict[str, Any],
    shopify_updated_at: datetime | None = None,
) -> SyncLink:
    return SyncLink(
        shop_domain=shop_domain,
        entity_type=entity_type,
        shopify_id=shopify_id,
        crm_id=crm_id,
        shopify_key=_key(shop_domain, entity_type, shopify_id),
        crm_key=_key(shop_domain, entity_type, crm_id),
        content_hash=content_hash(canonical),
        shopify_updated_at=shopify_updated_at,
    )


async def save(
    shop_domain: str,
    entity_type: str,
    *,
    shopify_id: str | None,
    crm_id: str | None,
    canonical: dict[str, Any],
    shopify_updated_at: datetime | None = None,
) -> None:
    """Records that both sides now hold `canonical` for this entity (as of Shopify's
    `shopify_updated_at`, when the flow knows it)."""
    shopify_key = _key(shop_domain, entity_type, shopify_id)
    crm_key = _key(shop_domain, entity_type, crm_id)
    values: dict[Column | str, Any] = {
        SyncLink.content_hash: content_hash(canonical),
        SyncLink.synced_at: utcnow(),
    }
    if shopify_updated_at is not None:
        values[SyncLink.shopify_updated_at] = shopify_updated_at
    if shopify_id:
        values |= {SyncLink.shopify_id: shopify_id, SyncLink.shopify_key: shopify_key}
    if crm_id:
        values |= {SyncLink.crm_id: crm_id, SyncLink.crm_key: crm_key}
    matches = [
        column == key
        for column, key in ((SyncLink.shopify_key, shopify_key), (SyncLink.crm_key, crm_key))
        if key
    ]
    # Twice at most: a job running alongside (workers run several at once) may insert this
    # entity's link between our look and our insert; then ours updates it instead.
    for _ in range(2):
        existing = await SyncLink.select(SyncLink.id).where(functools.reduce(operator.or_, matches)).first()
        if existing:
            await SyncLink.update(values).where(SyncLink.id == existing["id"])
            return
        inserted = (
            await SyncLink.insert(
                _new_link(shop_domain, entity_type, shopify_id, crm_id, canonical, shopify_updated_at)
            )
            .on_conflict(action="DO NOTHING")
            .returning(SyncLink.id)
        )
        if inserted:
            return


async def forget(
    shop_domain: str, entity_type: str, *, shopify_id: str | None = None, crm_id: str | None = None
) -> None:
    if shopify_id:
        await SyncLink.delete().where(SyncLink.shopify_key == _key(shop_domain, entity_type, shopify_id))
    if crm_id:
        await SyncLink.delete().where(SyncLink.crm_key == _key(shop_domain, entity_type, crm_id))


async def hashes_by_shopify_id(shop_domain: str, entity_type: str, shopify_ids: list[str]) -> dict[str, str]:
    """The synced content hash of each of these entities that has a link, in one query."""
    keys = [_key(shop_domain, entity_type, shopify_id) for shopify_id in shopify_ids]
    rows = await SyncLink.select(SyncLink.shopify_id, SyncLink.content_hash).where(
        SyncLink.shopify_key.is_in([key for key in keys if key] or ["-"])
    )
    return {str(row["shopify_id"]): str(row["content_hash"]) for row in rows}


async def save_new(shop_domain: str, entity_type: str, pairs: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Links for entities linked for the first time, (Shopify id, CRM id, canonical), in one insert."""
    if pairs:
        await SyncLink.insert(
            *(
                _new_link(shop_domain, entity_type, shopify_id, crm_id, canonical)
                for shopify_id, crm_id, canonical in pairs
            )
        )
