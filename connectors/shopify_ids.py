"""Shopify's global ids (`gid://shopify/<Type>/<id>`): made, read and told apart in one place.

The Admin GraphQL API names every object by its gid; REST webhook payloads carry the
numeric id and, for most objects, the gid as `admin_graphql_api_id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GID_PREFIX = "gid://shopify/"


def gid(kind: str, numeric_id: object) -> str:
    """("Order", 900) -> "gid://shopify/Order/900"."""
    return f"{GID_PREFIX}{kind}/{numeric_id}"


def gid_of(kind: str, payload: Mapping[str, Any]) -> str:
    """The gid of a webhook payload's object: its `admin_graphql_api_id`, else made from its id."""
    return str(payload.get("admin_graphql_api_id") or gid(kind, payload.get("id")))


def is_gid(value: object, kind: str) -> bool:
    """True when `value` is the gid of a `kind` (a ProductVariant's, an Order's...)."""
    return isinstance(value, str) and value.startswith(gid(kind, ""))


def numeric_id(value: str) -> str | None:
    """gid://shopify/Order/900 -> "900", the id REST payloads carry; None when not a gid."""
    return value.rsplit("/", 1)[-1] if value.startswith(GID_PREFIX) else None
