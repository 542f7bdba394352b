"""What the flows of every entity share: the CRM event's record, and whether it came from Shopify."""

from __future__ import annotations

from typing import Any

from connectors.shopify_ids import is_gid
from jobqueue.inbox import InboxEventData


def crm_data(event: InboxEventData) -> dict[str, Any]:
    data = event.payload.get("data")
    return data if isinstance(data, dict) else {}


def from_shopify(data: dict[str, Any], kind: str) -> str | None:
    """The Shopify id when the CRM entity came from Shopify (its external id is Shopify's gid)."""
    external_id = str(data.get("external_id") or "")
    return external_id if is_gid(external_id, kind) else None
