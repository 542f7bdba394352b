"""The inbox's dispatch is built from the topic registry (sync/topics.py): every topic we take
has a handler and every handler a topic, and the registry names topics as the sources do."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from functools import partial

import pytest

from billing.provider import Billing
from funnels.sync_scope import live_funnels
from iam.clients import ShopClients
from jobqueue.inbox import JOB_PROCESS_INBOX_EVENT, TopicHandler
from jobqueue.intake import SHOPIFY_TOPIC_SHAPES
from jobqueue.tables import WebhookSource
from onboarding.composition import (
    build_billing_providers,
    build_iam_context,
    close_clients,
    inbox_dispatch,
    job_handlers,
    signing_key,
    topic_handlers,
)
from sandbox.crm.state import WEBHOOK_TOPICS as CRM_SANDBOX_TOPICS
from sandbox.shopify.payloads import COMPLIANCE_TOPICS, TOPICS
from sync.context import SyncContext
from sync.topics import (
    CRM_TOPICS,
    CRM_WEBHOOK_TOPICS,
    SHOPIFY_TOPICS,
    SHOPIFY_WEBHOOK_TOPICS,
    WEBHOOK_TOPICS,
    Delivery,
)
from tests.support.app import make_settings

REGISTRY_SOURCES = (WebhookSource.SHOPIFY, WebhookSource.CRM)


@pytest.fixture
async def wiring() -> AsyncIterator[tuple[dict[str, TopicHandler], dict[str, TopicHandler], Billing]]:
    """The handlers the layers provide and the dispatch the worker runs, with Stripe configured."""
    settings = make_settings(
        "sqlite:///composition.sqlite3", stripe_api_key="sk_test_x", stripe_webhook_secret="whsec_x"
    )
    iam = build_iam_context(settings, signing_key(settings), {})
    clients = ShopClients(iam)
    billing = build_billing_providers(settings, clients)
    try:
        provided = topic_handlers(SyncContext(iam, live_funnels, clients), billing)
        # Every job handler waits while its shop's Shopify access is lost; what it wraps:
        worker_handler = job_handlers(clients, billing)[JOB_PROCESS_INBOX_EVENT].__wrapped__  # type: ignore[attr-defined]
        assert isinstance(worker_handler, partial)
        dispatch: dict[str, TopicHandler] = worker_handler.args[0]
        yield provided, dispatch, billing
    finally:
        await billing.aclose()
        await close_clients(iam)


def _from_registry_sources(keys: Mapping[str, object]) -> set[str]:
    return {key for key in keys if key.split(":", 1)[0] in REGISTRY_SOURCES}


Wiring = tuple[dict[str, TopicHandler], dict[str, TopicHandler], Billing]


def test_every_topic_of_the_registry_is_dispatched_and_nothing_else(wiring: Wiring) -> None:
    _, dispatch, _ = wiring
    assert _from_registry_sources(dispatch) == {topic.key for topic in WEBHOOK_TOPICS}


def test_every_handler_the_layers_provide_serves_a_topic_of_the_registry(wiring: Wiring) -> None:
    provided, _, _ = wiring
    assert _from_registry_sources(provided) | (set(provided) - _from_registry_sources(provided)) == set(
        provided
    )
    named = {topic.handler for topic in WEBHOOK_TOPICS}
    not_stripe = {key for key in provided if not key.startswith(f"{WebhookSource.STRIPE}:")}
    assert not_stripe - named == set(), "a handler no topic of the registry names"
    assert named - not_stripe == set(), "a topic whose handler no layer provides"


def test_each_topic_goes_to_the_handler_its_entry_names(wiring: Wiring) -> None:
    provided, dispatch, _ = wiring
    for topic in WEBHOOK_TOPICS:
        assert _applies(dispatch[topic.key]) == _applies(provided[topic.handler]), topic


def _applies(handler: TopicHandler) -> object:
    """What a handler runs: the flow a sync handler binds to its context, else the handler
    (the worker's dispatch was built with handlers of its own, equal but not the same)."""
    return handler.func if isinstance(handler, partial) else handler


def test_stripe_events_are_billings_own_and_pass_through(wiring: Wiring) -> None:
    _, dispatch, billing = wiring
    assert billing.stripe is not None
    stripe = {key for key in dispatch if key.startswith(f"{WebhookSource.STRIPE}:")}
    assert stripe == set(billing.stripe.topic_handlers())
    assert set(dispatch) == _from_registry_sources(dispatch) | stripe


def test_a_topic_whose_handler_is_missing_stops_the_start() -> None:
    with pytest.raises(KeyError):
        inbox_dispatch({})


def test_what_is_subscribed_is_dispatched_and_what_is_dispatched_is_subscribed_or_configured(
    wiring: Wiring,
) -> None:
    _, dispatch, _ = wiring
    subscribed = {f"shopify:{TOPICS[name]}" for name in SHOPIFY_WEBHOOK_TOPICS}
    subscribed |= {f"crm:{name}" for name in CRM_WEBHOOK_TOPICS}
    configured = {topic.key for topic in WEBHOOK_TOPICS if topic.delivery is Delivery.APP_CONFIGURATION}
    assert subscribed | configured == _from_registry_sources(dispatch)
    assert not subscribed & configured


def test_the_registry_names_topics_as_the_sources_do() -> None:
    shopify_subscribed = [topic for topic in SHOPIFY_TOPICS if topic.subscribed]
    assert all(TOPICS[topic.graphql_topic] == topic.name for topic in shopify_subscribed)
    assert {topic.name for topic in SHOPIFY_TOPICS if not topic.subscribed} == set(COMPLIANCE_TOPICS)
    assert {topic.name for topic in CRM_TOPICS} <= set(CRM_SANDBOX_TOPICS)
    assert all(topic.source is WebhookSource.SHOPIFY for topic in SHOPIFY_TOPICS)
    assert all(topic.source is WebhookSource.CRM and topic.subscribed for topic in CRM_TOPICS)


def test_the_intake_knows_the_shape_of_every_shopify_topic_of_the_registry_and_no_other() -> None:
    # The intake (below sync) cannot read the registry: its shape table is kept in step here.
    assert set(SHOPIFY_TOPIC_SHAPES) == {topic.name for topic in SHOPIFY_TOPICS}
