"""Shopify webhooks through the real route: signatures, dedupe, uninstall and privacy."""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar

from iam.tables import ExternalAccount, MerchantSession, PrivacyRequest, Shop
from jobqueue.tables import InboxEvent, InboxStatus, Job, JobStatus
from jobqueue.worker import Worker
from tests.integration.iam.support import install_shop, post_webhook, sign_in

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


async def test_uninstall_revokes_tokens_sessions_and_queued_work(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    await install_shop(app, SHOP)
    await sign_in(client, SHOP)
    assert (await client.get("/app/")).status_code == 200
    queued_before = await Job.count().where(Job.shop_domain == SHOP)
    assert queued_before > 0

    response = await post_webhook(client, "app/uninstalled", {"id": 1, "domain": SHOP}, shop_domain=SHOP)
    assert response.status_code == 200
    # The uninstall event runs first: its job is older than nothing else of this shop's ordering key.
    await app.state.worker.run_once()
    while await app.state.worker.run_once():
        pass

    shop = (
        await Shop.select(Shop.access_token, Shop.refresh_token, Shop.uninstalled_at)
        .where(Shop.domain == SHOP)
        .first()
    )
    assert shop is not None
    assert shop["access_token"] is None
    assert shop["refresh_token"] is None
    assert shop["uninstalled_at"] is not None
    assert await MerchantSession.count().where(MerchantSession.shop_domain == SHOP) == 0
    assert await ExternalAccount.count().where(ExternalAccount.access_token.is_not_null()) == 0
    assert await Job.count().where((Job.shop_domain == SHOP) & (Job.status == JobStatus.CANCELLED)) > 0

    after = await client.get("/app/", headers={"accept": "text/html"})
    assert after.status_code == 401
    assert "Please sign in" in after.text


async def test_customer_data_request_exports_what_we_hold(app: Litestar, client: httpx.AsyncClient) -> None:
    await install_shop(app, SHOP)
    customer = {"id": 42, "email": "ana@example.com", "first_name": "Ana"}
    await post_webhook(client, "customers/update", customer, shop_domain=SHOP)
    await post_webhook(client, "customers/update", {"id": 43, "email": "bo@example.com"}, shop_domain=SHOP)
    await post_webhook(
        client,
        "customers/data_request",
        {"shop_domain": SHOP, "customer": {"id": 42, "email": "ana@example.com"}, "orders_requested": []},
        shop_domain=SHOP,
    )
    await drain(app)
    request = (
        await PrivacyRequest.select()
        .where(PrivacyRequest.topic == "customers/data_request")
        .output(load_json=True)
        .first()
    )
    assert request is not None
    assert request["customer_id"] == "42"
    records = request["export"]["records"]
    assert [record["data"]["email"] for record in records] == ["ana@example.com"]


async def test_customer_redact_deletes_the_customers_data_only(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    await install_shop(app, SHOP)
    await post_webhook(client, "customers/update", {"id": 42, "email": "ana@example.com"}, shop_domain=SHOP)
    await post_webhook(client, "orders/create", {"id": 900, "email": "ana@example.com"}, shop_domain=SHOP)
    await post_webhook(client, "customers/update", {"id": 43, "email": "bo@example.com"}, shop_domain=SHOP)
    await post_webhook(
        client,
        "customers/redact",
        {"shop_domain": SHOP, "customer": {"id": 42, "email": "ana@example.com"}, "orders_to_redact": [900]},
        shop_domain=SHOP,
    )
    await drain(app)
    remaining = await InboxEvent.select(InboxEvent.payload).output(load_json=True)
    text = str(remaining)
    assert "ana@example.com" not in text
    assert "bo@example.com" in text
    outcome = (
        await PrivacyRequest.select(PrivacyRequest.outcome)
        .where(PrivacyRequest.topic == "customers/redact")
        .first()
    )
    assert outcome == {"outcome": "2 record(s) deleted"}


async def test_shop_redact_deletes_everything_of_the_shop(app: Litestar, client: httpx.AsyncClient) -> None:
    await install_shop(app, SHOP)
    await install_shop(app, "other.myshopify.com")
    await post_webhook(client, "customers/update", {"id": 1, "email": "x@example.com"}, shop_domain=SHOP)
    await post_webhook(client, "shop/redact", {"shop_domain": SHOP}, shop_domain=SHOP)
    await drain(app)
    assert await Shop.count().where(Shop.domain == SHOP) == 0
    assert await Shop.count().where(Shop.domain == "other.myshopify.com") == 1
    assert await InboxEvent.count().where(InboxEvent.shop_domain == SHOP) == 0
    assert await Job.count().where(Job.shop_domain == SHOP) == 0
    assert await PrivacyRequest.count().where(PrivacyRequest.topic == "shop/redact") == 1
