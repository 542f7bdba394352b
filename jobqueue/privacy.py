"""What the job queue holds about a shop or one of its customers, found and forgotten.

The inbox keeps webhooks as they arrived, personal data included; each event names the
entity it is about (`entity_id`, with its source and its topic's resource), and its job is
ordered by that same entity ("{source}:{resource}:{entity id}"). Privacy requests find
events by those entity references, built by the domains that know the ids (sync.privacy).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from jobqueue.inbox import resource_of
from jobqueue.tables import InboxEvent, Job, JobStatus

# (source, resource, entity id) as the inbox stores them: ("shopify", "order", "900").
EntityRef = tuple[str, str, str]

_PAGE = 500

SHOP_TABLES_FORGOTTEN = (Job, InboxEvent)


async def forget_shop(shop_domain: str) -> int:
    """Every job and every stored webhook of the shop; returns how many rows went."""
    jobs = await Job.delete().where(Job.shop_domain == shop_domain).returning(Job.id)
    events = await InboxEvent.delete().where(InboxEvent.shop_domain == shop_domain).returning(InboxEvent.id)
    return len(jobs) + len(events)


def _matching(
    rows: Iterable[dict[str, Any]], refs: Collection[EntityRef], exclude: int | None
) -> list[dict[str, Any]]:
    return [
        row
        for row in rows
        if row["id"] != exclude and (row["source"], resource_of(row["topic"]), row["entity_id"]) in refs
    ]


async def events_about(
    shop_domain: str, refs: Collection[EntityRef], *, exclude: int | None = None
) -> list[dict[str, Any]]:
    """The shop's stored webhooks about these entities (payloads decoded), oldest first."""
    ids = sorted({entity_id for _, _, entity_id in refs})
    if not ids:
        return []
    rows = (
        await InboxEvent.select(
            InboxEvent.id,
            InboxEvent.source,
            InboxEvent.topic,
            InboxEvent.entity_id,
            InboxEvent.received_at,
            InboxEvent.payload,
        )
        .where((InboxEvent.shop_domain == shop_domain) & InboxEvent.entity_id.is_in(ids))
        .order_by(InboxEvent.id)
        .output(load_json=True)
    )
    return _matching(rows, refs, exclude)


async def forget_events(shop_domain: str, refs: Collection[EntityRef], *, exclude: int | None = None) -> int:
    """Deletes the shop's stored webhooks about these entities and the jobs ordered by them
    (all but a running one: the job deleting them). Returns how many events went."""
    ids = sorted({entity_id for _, _, entity_id in refs})
    if not ids:
        return 0
    rows = await InboxEvent.select(
        InboxEvent.id, InboxEvent.source, InboxEvent.topic, InboxEvent.entity_id
    ).where((InboxEvent.shop_domain == shop_domain) & InboxEvent.entity_id.is_in(ids))
    doomed = [row["id"] for row in _matching(rows, refs, exclude)]
    if doomed:
        await InboxEvent.delete().where(InboxEvent.id.is_in(doomed))
    await forget_jobs(
        shop_domain, [f"{source}:{resource}:{entity_id}" for source, resource, entity_id in refs]
    )
    return len(doomed)


async def forget_jobs(shop_domain: str, ordering_keys: Collection[str]) -> int:
    """Deletes the shop's jobs with these ordering keys, but not one running now."""
    if not ordering_keys:
        return 0
    deleted = (
        await Job.delete()
        .where(
            (Job.shop_domain == shop_domain)
            & Job.ordering_key.is_in(sorted(set(ordering_keys)))
            & (Job.status != JobStatus.RUNNING)
        )
        .returning(Job.id)
    )
    return len(deleted)


def _at(payload: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        payload = payload.get(key) if isinstance(payload, dict) else None
    return payload


async def entity_ids_where(
    shop_domain: str, source: str, resource: str, path: tuple[str, ...], values: Collection[str]
) -> set[str]:
    """The entity ids of the shop's `resource` events from `source` whose payload holds one of
    `values` at `path`: the fulfillments of some orders, say (("order_id",) in Shopify's).

    Read page by page: the payload is the only place that says it, and there is no index on it.
    """
    wanted = {str(value) for value in values}
    found: set[str] = set()
    if not wanted:
        return found
    after = 0
    while True:
        rows = (
            await InboxEvent.select(InboxEvent.id, InboxEvent.topic, InboxEvent.entity_id, InboxEvent.payload)
            .where(
                (InboxEvent.shop_domain == shop_domain)
                & (InboxEvent.source == source)
                & InboxEvent.topic.like(f"{resource}%")
                & (InboxEvent.id > after)
            )
            .order_by(InboxEvent.id)
            .limit(_PAGE)
            .output(load_json=True)
        )
        for row in rows:
            value = _at(row["payload"], path)
            if (
                row["entity_id"]
                and resource_of(row["topic"]) == resource
                and value is not None
                and str(value) in wanted
            ):
                found.add(row["entity_id"])
        if len(rows) < _PAGE:
            return found
        after = rows[-1]["id"]
