"""Connection health: is each link the sync depends on working, as the dashboard shows it.

Shopify access (the offline token's and the refresh token's expiry), the CRM and page-service
accounts, the shop's webhook subscriptions as the last check found them (and what it
re-created), and the last webhook received from each source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from piccolo.query.functions.aggregate import Max

from iam.tables import AccountStatus, AccountSystem, ExternalAccount, Shop, ShopConnection
from jobqueue.tables import InboxEvent, WebhookSource
from sync.tables import WebhookCheck
from sync.topics import SHOPIFY_TOPICS, SHOPIFY_WEBHOOK_TOPICS

# A refresh token this close to its end is worth a warning: once it ends, only the merchant
# opening the app again restores access.
REFRESH_WARNING = timedelta(days=7)
SOURCE_LABELS = {WebhookSource.SHOPIFY: "Shopify", WebhookSource.CRM: "CRM"}
# "PRODUCTS_UPDATE" (what a check records) as Shopify's docs and merchants' logs name it.
TOPIC_NAMES = {topic.graphql_topic: topic.name for topic in SHOPIFY_TOPICS}
SYSTEM_LABELS = {AccountSystem.CRM: "CRM account", AccountSystem.TEMPLATES: "Page service account"}


class Health(StrEnum):
    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"
    UNKNOWN = "unknown"  # not checked or seen yet


@dataclass(frozen=True)
class Check:
    name: str
    health: Health
    summary: str
    detail: str = ""


def _when(moment: datetime) -> str:
    return moment.strftime("%d %b %Y %H:%M UTC")


def shopify_access(shop: dict[str, Any], now: datetime) -> Check:
    name = "Shopify access"
    if shop["uninstalled_at"] is not None or shop["access_token"] is None:
        return Check(
            name, Health.PROBLEM, "Not connected", "Open the app from your Shopify admin to connect it."
        )
    if shop["connection"] == ShopConnection.ACCESS_TOKEN:
        return Check(name, Health.OK, "Connected with a custom app's access token (it does not expire)")
    token_ends = shop["access_token_expires_at"]
    refresh_ends = shop["refresh_token_expires_at"]
    token = f"Access token valid until {_when(token_ends)}" if token_ends else "Access token does not expire"
    if refresh_ends is None:
        return Check(name, Health.OK, "Connected", token)
    if refresh_ends <= now:
        return Check(
            name,
            Health.PROBLEM,
            "Access expired: it can no longer be refreshed",
            "Open the app from your Shopify admin to give it access again.",
        )
    refresh = f"can be refreshed until {_when(refresh_ends)}"
    if refresh_ends - now <= REFRESH_WARNING:
        return Check(
            name, Health.WARNING, "Access ends soon", f"{token}; {refresh}. Open the app to renew it."
        )
    return Check(name, Health.OK, "Connected", f"{token}; {refresh}")


def account(system: AccountSystem, row: dict[str, Any] | None) -> Check:
    name = SYSTEM_LABELS[system]
    if row is None:
        return Check(name, Health.UNKNOWN, "Not set up yet")
    if row["status"] == AccountStatus.READY:
        return Check(name, Health.OK, "Ready")
    if row["status"] == AccountStatus.FAILED:
        return Check(
            name, Health.PROBLEM, "Setup failed", row["last_error"] or "See the setup page to retry."
        )
    return Check(name, Health.WARNING, "Being set up")


def subscriptions(row: dict[str, Any] | None) -> Check:
    name = "Webhook subscriptions"
    wanted = len(SHOPIFY_WEBHOOK_TOPICS)
    if row is None:
        return Check(name, Health.UNKNOWN, "Not checked yet")
    missing = _list(row["missing"])
    healed = [TOPIC_NAMES.get(topic, topic) for topic in _list(row["healed"])]
    checked = f"checked {_when(row['checked_at'])}"
    if row["error"]:
        present = wanted - len(missing)
        summary = f"{present} of {wanted} present; re-creating failed" if missing else "Could not be checked"
        return Check(name, Health.PROBLEM, summary, f"{row['error']} ({checked})")
    summary = f"All {wanted} present"
    if row["healed_at"] is not None:
        gap = f" (missing since after {_when(row['gap_since'])})" if row["gap_since"] else ""
        repaired = f"Re-created {', '.join(healed)} on {_when(row['healed_at'])}{gap}"
        repaired += "; a reconciliation covers the gap"
        if missing:  # this check found them gone: Shopify removed them after failed deliveries
            return Check(name, Health.WARNING, f"{summary} again", f"{repaired}; {checked}")
        return Check(name, Health.OK, summary, f"{repaired}; {checked}")
    return Check(name, Health.OK, summary, f"Checked {_when(row['checked_at'])}")


def _list(value: Any) -> list[str]:
    items = json.loads(value) if isinstance(value, str) else value
    return [str(item) for item in items or []]


def last_webhook(source: WebhookSource, received_at: datetime | None) -> Check:
    name = f"Last webhook from {SOURCE_LABELS[source]}"
    if received_at is None:
        return Check(name, Health.UNKNOWN, "None received yet")
    return Check(name, Health.OK, _when(received_at))


async def connection_health(shop_domain: str, now: datetime) -> list[Check]:
    shop = (
        await Shop.select(
            Shop.connection,
            Shop.access_token,
            Shop.access_token_expires_at,
            Shop.refresh_token_expires_at,
            Shop.uninstalled_at,
        )
        .where(Shop.domain == shop_domain)
        .first()
    )
    if shop is None:
        return []
    accounts = {
        row["system"]: row
        for row in await ExternalAccount.select(
            ExternalAccount.system, ExternalAccount.status, ExternalAccount.last_error
        ).where(ExternalAccount.shop.domain == shop_domain)
    }
    check = await WebhookCheck.select().where(WebhookCheck.shop_domain == shop_domain).first()
    received = {
        row["source"]: row["last"]
        for row in await InboxEvent.select(InboxEvent.source, Max(InboxEvent.received_at).as_alias("last"))
        .where(InboxEvent.shop_domain == shop_domain)
        .group_by(InboxEvent.source)
    }
    return [
        shopify_access(shop, now),
        account(AccountSystem.CRM, accounts.get(AccountSystem.CRM)),
        account(AccountSystem.TEMPLATES, accounts.get(AccountSystem.TEMPLATES)),
        subscriptions(check),
        *(last_webhook(source, _aware(received.get(source))) for source in SOURCE_LABELS),
    ]


def _aware(value: Any) -> datetime | None:
    """Max() over a timestamp comes back as text on SQLite."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
