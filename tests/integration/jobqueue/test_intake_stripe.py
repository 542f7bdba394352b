"""POST /webhooks/stripe through the app's real route: the job queue's lean intake, checked by
billing's Stripe verifier (the SDK). No Stripe is called: verifying and storing need none.

A module of its own beside test_intake.py because the app here runs with Stripe's settings.
How the stored events are applied by the worker, delivered by the Stripe sandbox to this same
route, is in tests/integration/billing/test_stripe_billing.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import stripe
from litestar import Litestar

from billing.plans import PlanForm, create_plan
from billing.services import entitlements
from billing.tables import PlanPrice, ProviderName, ProviderObject, ProviderObjectKind, Subscription
from jobqueue.tables import InboxEvent, InboxStatus, Job
from onboarding.app import create_app
from onboarding.settings import Settings
from tests.support.app import asgi_client, lifespan_of, make_settings

SHOP = "stripe-route.myshopify.com"
CUSTOMER = "cus_route_1"
WEBHOOK_SECRET = "whsec_route_tests"
STRIPE_SETTINGS: dict[str, Any] = {
    "billing_provider": "stripe",
    "stripe_api_key": "sk_test_route_tests",
    "stripe_webhook_secret": WEBHOOK_SECRET,
    "stripe_api_base": "http://stripe.invalid",  # never called here
}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, **STRIPE_SETTINGS)


def event(
    event_id: str = "evt_route_1", event_type: str = "invoice.paid", created: int = 0
) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created or int(time.time()),
        "data": {"object": {"id": "in_1", "object": "invoice", "customer": CUSTOMER}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def signed(body: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=at)
    return {"Content-Type": "application/json", "Stripe-Signature": str(header)}


async def post_event(client: httpx.AsyncClient, body: bytes, **signing: Any) -> httpx.Response:
    return await client.post("/webhooks/stripe", content=body, headers=signed(body, **signing))


def assert_security_headers(response: httpx.Response) -> None:
    # As every answer of the app carries them (onboarding/security.py), webhook answers too.
    for name in ("content-security-policy", "x-content-type-options", "referrer-policy"):
        assert name in response.headers, name


async def stored_payload_text(delivery_key: str) -> str:
    # The column as text: PostgreSQL's json type keeps the text it was given, SQLite stores text.
    (row,) = await InboxEvent.raw(
        "SELECT CAST(payload AS TEXT) AS payload FROM inbox_event WHERE delivery_key = {}", delivery_key
    )
    return str(row["payload"])


async def stored() -> tuple[int, int]:
    return await InboxEvent.count(), await Job.count()


async def remember_customer() -> None:
    await ProviderObject.insert(
        ProviderObject(
            key=f"{ProviderName.STRIPE}:{ProviderObjectKind.CUSTOMER}:{SHOP}",
            provider=ProviderName.STRIPE,
            kind=ProviderObjectKind.CUSTOMER,
            local_id=SHOP,
            external_id=CUSTOMER,
        )
    )


@pytest.mark.postgres
async def test_a_signed_event_is_stored_once_by_its_id_with_its_job(client: httpx.AsyncClient) -> None:
    await remember_customer()
    # Stripe's spacing and key order, kept as sent: `created` orders the subscription's events.
    body = json.dumps(event(created=1_790_000_000), indent=2).encode()

    first = await post_event(client, body)
    again = await post_event(client, body)  # Stripe retries, or sends one event twice

    assert (first.status_code, first.json()) == (200, {"status": "stored"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    for response in (first, again):
        assert response.headers["content-type"] == "application/json"
        assert "x-request-id" in response.headers
        assert "set-cookie" not in response.headers  # no session, no CSRF token for Stripe
        assert_security_headers(response)
    (row,) = await InboxEvent.select().output(load_json=True)
    assert (row["source"], row["delivery_key"], row["topic"], row["shop_domain"], row["status"]) == (
        "stripe",
        "stripe:evt_route_1",
        "invoice.paid",
        SHOP,
        InboxStatus.RECEIVED,
    )
    assert row["payload"]["created"] == 1_790_000_000
    assert await stored_payload_text("stripe:evt_route_1") == body.decode()
    (job,) = await Job.select().output(load_json=True)
    assert job["payload"] == {"event_id": row["id"]}


async def remember_price() -> None:
    """A plan whose current price we made at Stripe as price_route_1."""
    plan_id, errors = await create_plan(
        PlanForm.from_data(
            {
                "code": "pro",
                "name": "Pro",
                "description": "",
                "price": "29.00",
                "currency": "USD",
                "interval": "month",
                "trial_days": "0",
                "live_funnels_limit": "5",
                "synced_orders_limit": "5000",
                "upsells_limit": "3",
            }
        )
    )
    assert plan_id is not None, errors
    price = await PlanPrice.select(PlanPrice.id).where(PlanPrice.plan == plan_id).first()
    assert price is not None
    await ProviderObject.insert(
        ProviderObject(
            key=f"{ProviderName.STRIPE}:{ProviderObjectKind.PRICE}:{price['id']}",
            provider=ProviderName.STRIPE,
            kind=ProviderObjectKind.PRICE,
            local_id=str(price["id"]),
            external_id="price_route_1",
        )
    )


def subscription_event(event_id: str, event_type: str, status: str, created: int) -> dict[str, Any]:
    subscription = {
        "id": "sub_route_1",
        "object": "subscription",
        "customer": CUSTOMER,
        "status": status,
        "metadata": {"shop_domain": SHOP},
        "items": {"data": [{"id": "si_1", "price": {"id": "price_route_1"}, "current_period_end": created}]},
    }
    return {**event(event_id, event_type, created), "data": {"object": subscription}}


@pytest.mark.postgres
async def test_the_worker_applies_stored_events_in_stripes_time_order(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    await remember_customer()
    await remember_price()
    now = int(time.time())
    created = subscription_event("evt_sub_1", "customer.subscription.created", "active", now - 60)
    deleted = subscription_event("evt_sub_3", "customer.subscription.deleted", "canceled", now)
    older = subscription_event("evt_sub_2", "customer.subscription.updated", "past_due", now - 30)

    for each in (created, deleted, older):  # the older update arrives last
        response = await post_event(client, json.dumps(each).encode())
        assert response.json() == {"status": "stored"}
        assert await app.state.worker.drain() == 1
        if each is created:
            assert (await entitlements(SHOP)).plan_code == "pro"

    row = await Subscription.select().where(Subscription.external_id == "sub_route_1").first()
    assert row is not None
    assert (row["shop_domain"], row["status"]) == (SHOP, "cancelled")  # the late, older one undid nothing
    assert int(row["provider_updated_at"].timestamp()) == now
    assert (await entitlements(SHOP)).plan_code == "free"
    statuses = await InboxEvent.select(InboxEvent.status).output(as_list=True)
    assert statuses == [InboxStatus.PROCESSED] * 3


async def test_an_event_of_a_customer_we_did_not_make_is_stored_without_a_shop(
    client: httpx.AsyncClient,
) -> None:
    response = await post_event(client, json.dumps(event("evt_not_ours")).encode())
    assert response.json() == {"status": "stored"}
    assert await InboxEvent.select(InboxEvent.shop_domain).output(as_list=True) == [None]


async def test_bad_signatures_are_401_and_nothing_is_stored(client: httpx.AsyncClient) -> None:
    payload = event("evt_forged", "customer.subscription.deleted")
    body = json.dumps(payload).encode()
    header = signed(body)["Stripe-Signature"]

    wrong_secret = await post_event(client, body, secret="whsec_not_ours")
    unsigned = await client.post("/webhooks/stripe", content=body)
    tampered = await client.post(
        "/webhooks/stripe",
        content=body.replace(b"cus_route_1", b"cus_other"),
        headers={"Stripe-Signature": header},
    )
    too_old = await post_event(client, body, at=int(time.time()) - 301)  # outside the SDK's 5 minutes
    garbled = await client.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": "t=x,v1"})
    for response in (wrong_secret, unsigned, tampered, too_old, garbled):
        assert response.status_code == 401, response.text
        assert response.json() == {"error": "invalid signature"}
        assert_security_headers(response)
    assert await stored() == (0, 0)


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b'{"no": "event"}',
        b"not json",
        b'{"id": "evt_1", "object": "event", "type": "invoice.paid", "created": NaN}',
        b'{"id": 7, "object": "event", "type": "invoice.paid"}',
        b'{"id": "", "object": "event", "type": "invoice.paid"}',
        b'{"id": "evt_1", "object": "event"}',
    ],
    ids=["not an object", "not an event", "not JSON", "NaN", "id not a string", "empty id", "no type"],
)
async def test_a_signed_body_that_is_not_a_stripe_event_is_400_and_not_stored(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await post_event(client, body)
    assert (response.status_code, response.json()) == (400, {"error": "not a Stripe event"})
    assert await stored() == (0, 0)


async def test_other_methods_are_405_and_a_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    got = await client.get("/webhooks/stripe")
    assert (got.status_code, got.headers["allow"], got.json()) == (
        405,
        "POST",
        {"error": "method not allowed"},
    )

    # Litestar's request_max_body_size before: 10 MB.
    body = json.dumps({**event("evt_huge"), "padding": "x" * 10_000_000}).encode()
    too_large = await post_event(client, body)
    assert (too_large.status_code, too_large.json()) == (413, {"error": "request body too large"})
    assert await stored() == (0, 0)


async def test_a_trailing_slash_reaches_the_route_as_it_reached_litestar(client: httpx.AsyncClient) -> None:
    body = json.dumps(event("evt_slash")).encode()
    response = await client.post("/webhooks/stripe/", content=body, headers=signed(body))
    assert response.json() == {"status": "stored"}


@pytest.mark.parametrize(
    "overrides",
    [{}, {"stripe_api_key": "sk_test_route_tests"}],
    ids=["no Stripe", "a key but no signing secret"],
)
async def test_without_a_signing_secret_the_route_answers_401_and_stores_nothing(
    database_url: str, overrides: dict[str, str]
) -> None:
    app = create_app(make_settings(database_url, **overrides))
    body = json.dumps(event("evt_unconfigured")).encode()
    async with lifespan_of(app), asgi_client(app) as client:
        for headers in (signed(body), signed(body, secret=""), {}):
            response = await client.post("/webhooks/stripe", content=body, headers=headers)
            assert (response.status_code, response.json()) == (401, {"error": "Stripe is not configured"})
        assert await stored() == (0, 0)
