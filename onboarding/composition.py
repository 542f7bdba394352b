"""Builds the services the app runs on from settings: clients, vault, worker and its handlers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import partial

import httpx
from joserfc.jwk import ECKey
from opentelemetry import trace
from shopify_app import ShopifyApp

from alerts.digests import JOB_SEND_DIGESTS, AlertConfig, send_digests
from analytics.beacon import beacon_key, beacon_tag
from analytics.orders import record_order
from analytics.rollup import JOB_ROLL_UP, ROLL_UP_INTERVAL, roll_up_job, schedule_roll_up
from billing.provider import Billing, build_billing
from billing.stripe_billing import StripeConfig
from connectors.crm import CrmClient
from connectors.mail import Mailer
from connectors.shopify import ShopifyClient, shopify_http_client
from connectors.templates import PageBeacon, TemplatesClient
from funnels.livepage import JOB_REFRESH_LIVE_PAGE, PageBeaconFor, queue_page_refresh, refresh_live_page
from funnels.publish import JOB_PUBLISH_FUNNEL, run_publish
from funnels.split_tests import (
    JOB_END_SPLIT_TEST,
    JOB_START_SPLIT_TEST,
    run_end_split_test,
    run_start_split_test,
)
from funnels.sync_scope import live_funnels
from iam.clients import ShopClients
from iam.context import IamContext
from iam.provisioning import JOB_PROVISION_ACCOUNT, provision_account
from iam.signing import load_or_create_signing_key
from iam.tokens import waiting_for_shopify_access
from iam.vault import KeyRing, Vault
from jobqueue.inbox import JOB_PROCESS_INBOX_EVENT, TopicHandler, process_inbox_event
from jobqueue.jobs import JobHandler, schedule_once
from jobqueue.tables import WebhookSource
from jobqueue.worker import Worker
from onboarding.privacy import topic_handlers as privacy_topic_handlers
from onboarding.settings import Environment, Settings
from sync import catalog_import, reconciliation, subscriptions
from sync.context import SyncContext
from sync.handlers import topic_handlers as sync_topic_handlers
from sync.topics import JOB_IMPORT_CATALOG, JOB_RECONCILE, WEBHOOK_TOPICS

# Tests hand in ASGI transports so the app reaches in-process sandboxes.
Transports = Mapping[str, httpx.AsyncBaseTransport]


def signing_key(settings: Settings) -> ECKey:
    return load_or_create_signing_key(
        settings.app_signing_key_file, create=settings.app_env is not Environment.production
    )


def shopify_app_of(settings: Settings) -> ShopifyApp:
    """Shopify's package, configured once: it verifies app-home requests and webhooks, and
    exchanges and refreshes tokens."""
    return ShopifyApp(
        client_id=settings.shopify_api_key,
        client_secret=settings.shopify_api_secret,
        old_client_secret=settings.shopify_api_secret_previous or None,
    )


def build_iam_context(settings: Settings, key: ECKey, transports: Transports) -> IamContext:
    timeout = settings.external_timeout_seconds
    shopify_http = shopify_http_client(settings.shopify_shop_base_url, timeout, transports.get("shopify"))
    return IamContext(
        vault=Vault(KeyRing.parse(settings.vault_keys)),
        shopify=ShopifyClient(
            shopify_http,
            shop_base_url=settings.shopify_shop_base_url,
            api_version=settings.shopify_api_version,
            client_id=settings.shopify_api_key,
            client_secret=settings.shopify_api_secret,
        ),
        crm=CrmClient(
            base_url=settings.crm_base_url,
            client_id=settings.crm_client_id,
            client_secret=settings.crm_client_secret,
            signing_key=key,
            transport=transports.get("crm"),
            timeout_seconds=timeout,
        ),
        templates=TemplatesClient(
            base_url=settings.templates_base_url,
            client_id=settings.templates_client_id,
            client_secret=settings.templates_client_secret,
            signing_key=key,
            transport=transports.get("templates"),
            timeout_seconds=timeout,
        ),
        app_base_url=settings.app_base_url.rstrip("/"),
        shopify_secrets=settings.shopify_webhook_secrets,
        shopify_app=shopify_app_of(settings),
        app_bridge_url=settings.shopify_app_bridge_url,
        admin_origin=settings.shopify_admin_origin,
        app_handle=settings.shopify_app_handle,
        on_installed=(subscriptions.start_shopify_sync,),
        on_crm_account_ready=(subscriptions.start_crm_sync,),
    )


async def close_clients(iam: IamContext) -> None:
    await iam.shopify.http.aclose()
    await iam.crm.aclose()
    await iam.templates.aclose()


def topic_handlers(sync: SyncContext, billing: Billing) -> dict[str, TopicHandler]:
    """Every webhook handler the layers provide, by the key the topic registry names it by."""
    return {**privacy_topic_handlers(sync.clients), **billing.topic_handlers(), **sync_topic_handlers(sync)}


def inbox_dispatch(handlers: Mapping[str, TopicHandler]) -> dict[str, TopicHandler]:
    """What the inbox hands each event to, by "source:topic": every topic of the registry
    (sync/topics.py) with the handler it names, so start-up stops here when one is missing;
    and Stripe's events, which billing alone subscribes to (in Stripe) and handles."""
    dispatch = {topic.key: handlers[topic.handler] for topic in WEBHOOK_TOPICS}
    stripe = {key: handler for key, handler in handlers.items() if key.startswith(f"{WebhookSource.STRIPE}:")}
    return dispatch | stripe


def alert_config(settings: Settings) -> AlertConfig:
    return AlertConfig(
        mailer=Mailer(settings.smtp_url, settings.alert_from, settings.external_timeout_seconds),
        app_base_url=settings.app_base_url.rstrip("/"),
        admin_origin=settings.shopify_admin_origin,
        app_handle=settings.shopify_app_handle,
        interval=timedelta(minutes=settings.alert_digest_minutes),
        sync_failures=settings.alert_sync_failures,
        dead_letters=settings.alert_dead_letters,
    )


def page_beacon_for(settings: Settings) -> PageBeaconFor:
    """What a funnel's live page reports its traffic with: the app's beacon and a token signed
    with the beacon key (analytics.beacon), put in the page's content at publish."""
    key = beacon_key(settings.analytics_beacon_key, settings.secret_key)

    def beacon_of(shop_domain: str, funnel_id: int, variant: str = "") -> PageBeacon:
        # `variant`: a split test's variant B reports under its own (funnels.split_tests).
        tag = beacon_tag(key, settings.app_base_url, shop_domain, funnel_id, variant)
        return PageBeacon(url=tag.url, script_url=tag.script_url, token=tag.token)

    return beacon_of


def job_handlers(
    clients: ShopClients,
    billing: Billing,
    catalog_refresh: timedelta = catalog_import.DEFAULT_REFRESH,
    alerts: AlertConfig | None = None,
    beacon_for: PageBeaconFor | None = None,
) -> dict[str, JobHandler]:
    iam = clients.iam
    sync = SyncContext(
        iam, live_funnels, clients, products_changed=queue_page_refresh, order_seen=record_order
    )
    dispatch = inbox_dispatch(topic_handlers(sync, billing))
    handlers: dict[str, JobHandler] = {
        JOB_PROVISION_ACCOUNT: partial(provision_account, iam),
        subscriptions.JOB_REGISTER_WEBHOOKS: partial(subscriptions.register_webhooks, clients),
        subscriptions.JOB_REGISTER_CRM_WEBHOOKS: partial(subscriptions.register_crm_webhooks, clients),
        JOB_PROCESS_INBOX_EVENT: partial(process_inbox_event, dispatch),
        JOB_PUBLISH_FUNNEL: partial(run_publish, clients, beacon_for=beacon_for),
        JOB_REFRESH_LIVE_PAGE: partial(refresh_live_page, clients, beacon_for=beacon_for),
        JOB_START_SPLIT_TEST: partial(run_start_split_test, clients, beacon_for=beacon_for),
        JOB_END_SPLIT_TEST: partial(run_end_split_test, clients),
        JOB_IMPORT_CATALOG: partial(
            catalog_import.import_catalog,
            clients,
            refresh=catalog_refresh,
            products_changed=sync.products_changed,
        ),
        catalog_import.JOB_IMPORT_CATALOG_BULK: partial(
            catalog_import.import_catalog_bulk,
            clients,
            refresh=catalog_refresh,
            products_changed=sync.products_changed,
        ),
        JOB_RECONCILE: partial(reconciliation.reconcile, clients, products_changed=sync.products_changed),
        subscriptions.JOB_CHECK_WEBHOOKS: partial(subscriptions.check_webhooks, clients),
        subscriptions.JOB_CHECK_ALL_WEBHOOKS: subscriptions.check_all_webhooks,
        JOB_SEND_DIGESTS: partial(send_digests, alerts or AlertConfig(Mailer("", ""), iam.app_base_url, "")),
        JOB_ROLL_UP: roll_up_job,
    }
    # A shop whose Shopify access was lost: its jobs wait for the merchant to reconnect.
    return {kind: waiting_for_shopify_access(handler) for kind, handler in handlers.items()}


def build_worker(
    clients: ShopClients, billing: Billing, settings: Settings, *, traced: bool = False
) -> Worker:
    return Worker(
        job_handlers(
            clients,
            billing,
            timedelta(hours=settings.catalog_refresh_hours),
            alert_config(settings),
            beacon_for=page_beacon_for(settings),
        ),
        # A span per job, continuing the trace of what queued it (onboarding/tracing.py).
        tracer=trace.get_tracer("funnelsync.jobs") if traced else None,
    )


async def start_periodic_jobs(settings: Settings) -> None:
    """Where workers run: the jobs that are not any shop's and queue their own next run (each
    queued once however many processes start). The first runs come one period after start."""
    await schedule_once(JOB_SEND_DIGESTS, None, delay=timedelta(minutes=settings.alert_digest_minutes))
    await schedule_once(
        subscriptions.JOB_CHECK_ALL_WEBHOOKS, None, delay=subscriptions.WEBHOOK_CHECK_INTERVAL
    )
    await schedule_roll_up(ROLL_UP_INTERVAL)


def build_billing_providers(settings: Settings, clients: ShopClients) -> Billing:
    """The billing providers: Shopify always, Stripe when STRIPE_API_KEY is set."""
    stripe_config = (
        StripeConfig(
            api_key=settings.stripe_api_key,
            webhook_secret=settings.stripe_webhook_secret,
            api_version=settings.stripe_api_version,
            api_base=settings.stripe_api_base,
            app_base_url=settings.app_base_url,
            timeout_seconds=settings.external_timeout_seconds,
        )
        if settings.stripe_api_key
        else None
    )
    return build_billing(
        default=settings.billing_provider,
        clients=clients,
        grace_days=settings.billing_grace_days,
        test_charges=not settings.is_production,
        stripe_config=stripe_config,
    )
