"""What the flows of every entity share: ids from either side's events, and the CRM event's record."""

from __future__ import annotations

from typing import Any

from jobqueue.inbox import InboxEventData


def gid(kind: str, payload: dict[str, Any]) -> str:
    return str(payload.get("admin_graphql_api_id") or f"gid://shopify/{kind}/{payload.get('id')}")


def crm_data(event: InboxEventData) -> dict[str, Any]:
    data = event.payload.get("data")
    return data if isinstance(data, dict) else {}


def from_shopify(data: dict[str, Any], kind: str) -> str | None:
    """The Shopify id when the CRM entity came from Shopify (its external id is Shopify's gid)."""
    external_id = str(data.get("external_id") or "")
    return external_id if external_id.startswith(f"gid://shopify/{kind}/") else None
