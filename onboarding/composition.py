"""Builds the services the app runs on from settings: clients, vault, worker and its handlers."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

import httpx
from joserfc.jwk import ECKey

from billing.services import TOPIC_HANDLERS as BILLING_TOPIC_HANDLERS
from connectors.crm import CrmClient
from connectors.shopify import ShopifyClient
from connectors.templates import TemplatesClient
from funnels.product_sync import sync_product_to_crm
from funnels.publish import JOB_PUBLISH_FUNNEL, run_publish
from iam.context import IamContext
from iam.privacy import TOPIC_HANDLERS as PRIVACY_TOPIC_HANDLERS
from iam.provisioning import (
    JOB_PROVISION_ACCOUNT,
    JOB_REGISTER_WEBHOOKS,
    provision_account,
    register_webhooks,
)
from iam.signing import load_or_create_signing_key
from iam.vault import KeyRing, Vault
from onboarding.settings import Environment, Settings
from sync.inbox import JOB_PROCESS_INBOX_EVENT, TopicHandler, process_inbox_event
from sync.jobs import JobHandler, Worker

# Tests hand in ASGI transports so the app reaches in-process sandboxes.
Transports = Mapping[str, httpx.AsyncBaseTransport]


def signing_key(settings: Settings) -> ECKey:
    return load_or_create_signing_key(
        settings.app_signing_key_file, create=settings.app_env is not Environment.production
    )


def build_iam_context(settings: Settings, key: ECKey, transports: Transports) -> IamContext:
    timeout = settings.external_timeout_seconds
    shopify_http = httpx.AsyncClient(transport=transports.get("shopify"), timeout=timeout)
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
    )


async def close_clients(iam: IamContext) -> None:
    await iam.shopify.http.aclose()
    await iam.crm.aclose()
    await iam.templates.aclose()


def job_handlers(iam: IamContext) -> dict[str, JobHandler]:
    sync_product = partial(sync_product_to_crm, iam)
    topic_handlers: dict[str, TopicHandler] = {
        **PRIVACY_TOPIC_HANDLERS,
        **BILLING_TOPIC_HANDLERS,
        "shopify:products/create": sync_product,
        "shopify:products/update": sync_product,
    }
    return {
        JOB_PROVISION_ACCOUNT: partial(provision_account, iam),
        JOB_REGISTER_WEBHOOKS: partial(register_webhooks, iam),
        JOB_PROCESS_INBOX_EVENT: partial(process_inbox_event, topic_handlers),
        JOB_PUBLISH_FUNNEL: partial(run_publish, iam),
    }


def build_worker(iam: IamContext) -> Worker:
    return Worker(job_handlers(iam))
