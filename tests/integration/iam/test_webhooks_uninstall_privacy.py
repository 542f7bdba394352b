"""Shopify webhooks through the real route: signatures, dedupe, unknown topics, secret rotation.

Uninstall and the privacy webhooks: tests/integration/onboarding/test_privacy.py.
"""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar

from jobqueue.tables import InboxEvent, InboxStatus, Job
from jobqueue.worker import Worker
from tests.integration.iam.support import post_webhook

pytestmark = pytest.mark.postgres
SHOP = "demo-store.myshopify.com"


async def drain(app: Litestar) -> None:
    worker: Worker = app.state.worker
    await worker.drain()


async def test_bad_signature_is_401_and_nothing_is_stored(client: httpx.AsyncClient) -> None:
    response = await post_webhook(client, "products/update", {"id": 1}, shop_domain=SHOP, secret="forged")
    assert response.status_code == 401
    unsigned = await client.post("/webhooks/shopify", content=b"{}", headers={"X-Shopify-Topic": "x"})
    assert unsigned.status_code == 401
    assert await InboxEvent.count() == 0
    assert await Job.count() == 0


async def test_duplicate_delivery_is_stored_once(client: httpx.AsyncClient) -> None:
    first = await post_webhook(client, "products/update", {"id": 7}, shop_domain=SHOP, webhook_id="w-1")
    again = await post_webhook(client, "products/update", {"id": 7}, shop_domain=SHOP, webhook_id="w-1")
    assert (first.status_code, first.json()) == (200, {"status": "stored"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert await InboxEvent.count() == 1


async def test_unknown_topic_is_recorded_and_ignored(app: Litestar, client: httpx.AsyncClient) -> None:
    response = await post_webhook(client, "carts/update", {"id": 3}, shop_domain=SHOP)
    assert response.status_code == 200
    await drain(app)
    event = await InboxEvent.select(InboxEvent.topic, InboxEvent.status).first()
    assert event == {"topic": "carts/update", "status": InboxStatus.IGNORED}


async def test_previous_secret_is_accepted_during_rotation(settings: object, database_url: str) -> None:
    from onboarding.app import create_app
    from tests.conftest import asgi_client, lifespan_of, make_settings

    app = create_app(
        make_settings(database_url, shopify_api_secret="new-secret", shopify_api_secret_previous="old-secret")
    )
    async with lifespan_of(app), asgi_client(app) as client:
        old = await post_webhook(client, "products/update", {"id": 1}, shop_domain=SHOP, secret="old-secret")
        new = await post_webhook(client, "products/update", {"id": 2}, shop_domain=SHOP, secret="new-secret")
        stale = await post_webhook(
            client, "products/update", {"id": 3}, shop_domain=SHOP, secret="dev-shopify-secret"
        )
    assert (old.status_code, new.status_code, stale.status_code) == (200, 200, 401)
