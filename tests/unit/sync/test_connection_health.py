"""Connection health says each state of each connection in words, with a health the page colours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from iam.tables import AccountStatus, AccountSystem, ShopConnection
from jobqueue.tables import WebhookSource
from sync.connection_health import Health, account, last_webhook, shopify_access, subscriptions
from sync.topics import SHOPIFY_WEBHOOK_TOPICS

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
ALL = len(SHOPIFY_WEBHOOK_TOPICS)


def shop(**values: Any) -> dict[str, Any]:
    return {
        "connection": ShopConnection.OAUTH,
        "access_token": "v1.sealed",
        "access_token_expires_at": NOW + timedelta(minutes=50),
        "refresh_token_expires_at": NOW + timedelta(days=80),
        "uninstalled_at": None,
        **values,
    }


def check(**values: Any) -> dict[str, Any]:
    return {
        "checked_at": NOW,
        "missing": "[]",
        "healed": "[]",
        "healed_at": None,
        "gap_since": None,
        "error": None,
        **values,
    }


def test_shopify_access_in_each_state() -> None:
    assert shopify_access(shop(), NOW).health is Health.OK
    assert "can be refreshed until 26 Feb 2027" in shopify_access(shop(), NOW).detail
    soon = shopify_access(shop(refresh_token_expires_at=NOW + timedelta(days=3)), NOW)
    assert (soon.health, soon.summary) == (Health.WARNING, "Access ends soon")
    expired = shopify_access(shop(refresh_token_expires_at=NOW - timedelta(seconds=1)), NOW)
    assert (expired.health, expired.summary) == (
        Health.PROBLEM,
        "Access expired: it can no longer be refreshed",
    )
    gone = shopify_access(shop(uninstalled_at=NOW, access_token=None), NOW)
    assert (gone.health, gone.summary) == (Health.PROBLEM, "Not connected")
    custom = shopify_access(shop(connection=ShopConnection.ACCESS_TOKEN, refresh_token_expires_at=None), NOW)
    assert custom.health is Health.OK
    assert "does not expire" in custom.summary


def test_accounts_in_each_state() -> None:
    assert account(AccountSystem.CRM, None).health is Health.UNKNOWN
    assert account(AccountSystem.CRM, {"status": AccountStatus.READY, "last_error": None}).health is Health.OK
    pending = account(AccountSystem.TEMPLATES, {"status": AccountStatus.PENDING, "last_error": None})
    assert (pending.name, pending.health) == ("Page service account", Health.WARNING)
    failed = account(AccountSystem.CRM, {"status": AccountStatus.FAILED, "last_error": "CRM: 503"})
    assert (failed.health, failed.detail) == (Health.PROBLEM, "CRM: 503")


def test_subscriptions_in_each_state() -> None:
    assert subscriptions(None).health is Health.UNKNOWN
    assert (subscriptions(check()).health, subscriptions(check()).summary) == (
        Health.OK,
        f"All {ALL} present",
    )
    healed = subscriptions(
        check(missing='["PRODUCTS_UPDATE"]', healed='["PRODUCTS_UPDATE"]', healed_at=NOW, gap_since=NOW)
    )
    assert (healed.health, healed.summary) == (Health.WARNING, f"All {ALL} present again")
    assert "Re-created products/update" in healed.detail
    later = subscriptions(check(healed='["ORDERS_CREATE"]', healed_at=NOW - timedelta(hours=2)))
    assert later.health is Health.OK
    assert "Re-created orders/create" in later.detail
    failed = subscriptions(check(missing='["ORDERS_CREATE"]', error="Shopify: refused"))
    assert (failed.health, failed.summary) == (
        Health.PROBLEM,
        f"{ALL - 1} of {ALL} present; re-creating failed",
    )


def test_last_webhook_per_source() -> None:
    assert last_webhook(WebhookSource.SHOPIFY, None).health is Health.UNKNOWN
    seen = last_webhook(WebhookSource.CRM, NOW)
    assert (seen.name, seen.summary) == ("Last webhook from CRM", "08 Dec 2026 12:00 UTC")
