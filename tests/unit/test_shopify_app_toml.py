"""shopify.app.toml (Shopify's app configuration, which a Shopify-managed installation applies)
says what the code needs: the scopes of iam/scopes.py, every Shopify topic of the registry
(sync/topics.py) with the compliance topics as compliance_topics, the API version the app
speaks, an embedded app whose webhooks reach the intake."""

from __future__ import annotations

import tomllib
from typing import Any

from shopify_app import ShopifyApp

from iam.scopes import REQUIRED_SCOPES
from jobqueue.inbox import InboxWriter
from jobqueue.intake import WebhookIntake
from jobqueue.tables import WebhookSource
from onboarding.settings import Settings
from sync.topics import SHOPIFY_TOPICS, Delivery
from tests.support.environment import PROJECT_DIR


def app_toml() -> dict[str, Any]:
    with (PROJECT_DIR / "shopify.app.toml").open("rb") as file:
        return tomllib.load(file)


def test_the_toml_asks_for_exactly_the_scopes_the_code_needs() -> None:
    scopes = app_toml()["access_scopes"]["scopes"].split(",")
    assert sorted(scopes) == sorted(REQUIRED_SCOPES)
    assert app_toml()["access_scopes"].get("use_legacy_install_flow") is False  # managed install


def test_the_toml_subscribes_to_every_shopify_topic_of_the_registry_and_no_other() -> None:
    """App-specific subscriptions, as Shopify recommends: Shopify keeps them for every shop. The
    app also subscribes each shop through the API (sync/subscriptions.py, which it can list and
    heal); the intake takes an event delivered to both once, by its X-Shopify-Event-Id."""
    subscriptions = app_toml()["webhooks"]["subscriptions"]
    topics = [topic for each in subscriptions for topic in each.get("topics", [])]
    compliance = [topic for each in subscriptions for topic in each.get("compliance_topics", [])]
    assert sorted(topics) == sorted(t.name for t in SHOPIFY_TOPICS if t.delivery is Delivery.SUBSCRIPTION)
    assert sorted(compliance) == sorted(
        t.name for t in SHOPIFY_TOPICS if t.delivery is Delivery.APP_CONFIGURATION
    )
    assert sorted(compliance) == ["customers/data_request", "customers/redact", "shop/redact"]
    assert all(t.source is WebhookSource.SHOPIFY for t in SHOPIFY_TOPICS)


async def no_account(account_id: str) -> str | None:
    return None


def test_every_subscription_reaches_the_shopify_intake() -> None:
    intake = WebhookIntake(
        InboxWriter(),
        lambda: None,
        shopify_app=ShopifyApp("client-id", "client-secret"),
        crm_secrets=[],
        shop_of_crm_account=no_account,
    )
    for subscription in app_toml()["webhooks"]["subscriptions"]:
        assert intake.route(subscription["uri"]) == intake.shopify


def test_the_toml_is_an_embedded_app_on_the_api_version_the_app_speaks() -> None:
    toml = app_toml()
    assert toml["embedded"] is True
    assert toml["webhooks"]["api_version"] == Settings.model_fields["shopify_api_version"].default
    assert toml["application_url"].startswith("https://")
    assert all(url.endswith("/shopify/callback") for url in toml["auth"]["redirect_urls"])
    assert toml["client_id"]  # a placeholder until the app's own is filled in


def test_the_apps_handle_in_admin_addresses_is_the_tomls() -> None:
    # Billing approved outside the admin's iframe comes back to {admin}/store/{store}/apps/{handle}.
    assert Settings.model_fields["shopify_app_handle"].default == app_toml()["handle"]
