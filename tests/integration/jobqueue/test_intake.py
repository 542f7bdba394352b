"""Webhook intake (jobqueue/intake.py): /webhooks/shopify and /webhooks/crm verify the signature
over the raw body, store once and answer at once (/webhooks/stripe: test_intake_stripe.py).

They bypass Litestar's page machinery, yet keep every guarantee the app gives its answers:
request id, one access log line, security headers, 401/400/405/413 without storing, a clean
JSON 500 (no trace) when storing fails. How the inbox stores: test_inbox.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import pytest
from litestar import Litestar
from shopify_app import ShopifyApp

from connectors.crm_webhooks import crm_signature
from iam.provisioning import shop_of_crm_account
from jobqueue.intake import WebhookIntake
from jobqueue.tables import InboxEvent, Job
from onboarding.app import create_app
from onboarding.settings import Settings
from tests.support.app import asgi_client, lifespan_of, make_settings
from tests.support.shops import post_webhook
from tests.support.signatures import webhook_signature

SHOP = "lean.myshopify.com"
SECURITY_HEADERS = (
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
    "cross-origin-opener-policy",
)


def assert_security_headers(response: httpx.Response) -> None:
    for name in SECURITY_HEADERS:
        assert name in response.headers, name
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_a_webhook_answer_carries_request_id_security_headers_and_one_access_line(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings)  # logging goes to the stdout this test captures
    async with lifespan_of(app), asgi_client(app) as client:
        kept = await client.post(
            "/webhooks/shopify", content=b"{}", headers={"x-request-id": "shopify-delivery-0001"}
        )
        stored = await post_webhook(client, "products/update", {"id": 1, "title": "Tee"}, shop_domain=SHOP)

    assert kept.status_code == 400  # unsigned: Shopify's package answers 400 for a missing HMAC header
    assert kept.headers["x-request-id"] == "shopify-delivery-0001"
    assert stored.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", stored.headers["x-request-id"])
    for response in (kept, stored):
        assert_security_headers(response)
        assert "set-cookie" not in response.headers  # no session, no CSRF token for machines
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request"]
    assert [(line["request_id"], line["status"], line["path"]) for line in access] == [
        ("shopify-delivery-0001", 400, "/webhooks/shopify"),
        (stored.headers["x-request-id"], 200, "/webhooks/shopify"),
    ]


async def test_a_request_id_with_a_trailing_newline_is_replaced(app: Litestar) -> None:
    # httpx refuses such a header, so the ASGI call is made by hand, as a lax proxy might pass it.
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/webhooks/shopify",
        "raw_path": b"/webhooks/shopify",
        "query_string": b"",
        "headers": [(b"x-request-id", b"abcdefgh1234\n")],
    }
    async with lifespan_of(app):
        await app(scope, receive, send)  # type: ignore[arg-type]
    headers = dict(sent[0]["headers"])
    assert re.fullmatch(rb"[0-9a-f]{32}", headers[b"x-request-id"])


@pytest.mark.postgres
async def test_a_failure_while_storing_answers_json_500_without_a_trace_and_stores_nothing(
    app: Litestar, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_store(events: object) -> list[bool]:
        raise RuntimeError("secret-internal-detail shpat_abc")

    monkeypatch.setattr(app.state.inbox, "store", broken_store)
    # Two at once: one failing commit answers every request waiting on it.
    responses = await asyncio.gather(
        post_webhook(client, "products/update", {"id": 1, "title": "Tee"}, shop_domain=SHOP),
        post_webhook(client, "products/update", {"id": 2, "title": "Tee"}, shop_domain=SHOP),
    )

    for response in responses:
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["error"]["status"] == 500
        assert body["error"]["request_id"] == response.headers["x-request-id"]
        assert "secret-internal-detail" not in response.text
        assert "Traceback" not in response.text
        assert_security_headers(response)
    assert await InboxEvent.count() == 0


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"not json", {"X-Shopify-Topic": "products/update", "X-Shopify-Webhook-Id": "w-1"}),
        (b"[1, 2]", {"X-Shopify-Topic": "products/update", "X-Shopify-Webhook-Id": "w-2"}),
        (b'{"id": NaN}', {"X-Shopify-Topic": "products/update", "X-Shopify-Webhook-Id": "w-3"}),
        (b'{"id": 1}', {"X-Shopify-Webhook-Id": "w-4"}),
        (b'{"id": 1}', {"X-Shopify-Topic": "products/update"}),
    ],
    ids=["not JSON", "not an object", "NaN", "no topic", "no webhook id"],
)
async def test_a_signed_but_malformed_delivery_is_400_and_stores_nothing(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/webhooks/shopify",
        content=body,
        headers={**headers, "X-Shopify-Hmac-Sha256": webhook_signature(body, "dev-shopify-secret")},
    )
    assert response.status_code == 400
    assert "error" in response.json()
    assert await InboxEvent.count() == 0


async def test_other_methods_are_405_with_allow_and_the_usual_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/webhooks/crm")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"error": "method not allowed"}
    assert "x-request-id" in response.headers
    assert_security_headers(response)


async def test_repeated_and_trailing_slashes_reach_the_intake_as_they_reached_litestar(
    client: httpx.AsyncClient,
) -> None:
    payload = {"id": 5, "title": "Tee"}
    body = json.dumps(payload).encode()
    for path, webhook_id in (("/webhooks/shopify/", "slash-1"), ("/webhooks//shopify", "slash-2")):
        response = await client.post(
            path,
            content=body,
            headers={
                "X-Shopify-Topic": "products/update",
                "X-Shopify-Hmac-Sha256": webhook_signature(body, "dev-shopify-secret"),
                "X-Shopify-Webhook-Id": webhook_id,
            },
        )
        assert (response.status_code, response.json()) == (200, {"status": "stored"})
    assert await InboxEvent.count() == 2


async def test_a_body_over_the_limit_is_413_and_not_stored(app: Litestar) -> None:
    intake = WebhookIntake(
        app.state.inbox,
        lambda: None,
        shopify_app=ShopifyApp("dev-shopify-key", "dev-shopify-secret"),
        crm_secrets=[],
        shop_of_crm_account=shop_of_crm_account,
        max_body_bytes=64,
    )
    async with lifespan_of(app), asgi_client(intake) as client:  # type: ignore[arg-type]
        response = await client.post("/webhooks/shopify", content=b"{" + b" " * 100 + b"}")
    assert response.status_code == 413
    assert await InboxEvent.count() == 0


# -- /webhooks/shopify: signatures, dedupe, secret rotation ----------------------------------------


@pytest.mark.postgres
async def test_bad_signature_is_401_and_nothing_is_stored(client: httpx.AsyncClient) -> None:
    response = await post_webhook(
        client, "products/update", {"id": 1, "title": "Tee"}, shop_domain=SHOP, secret="forged"
    )
    assert response.status_code == 401
    assert (response.text, response.headers["content-type"]) == ("Unauthorized", "text/plain; charset=utf-8")
    unsigned = await client.post("/webhooks/shopify", content=b"{}", headers={"X-Shopify-Topic": "x"})
    assert (unsigned.status_code, unsigned.text) == (400, "Bad Request")  # the package's answers, as made
    assert await InboxEvent.count() == 0
    assert await Job.count() == 0


@pytest.mark.postgres
async def test_duplicate_delivery_is_stored_once(client: httpx.AsyncClient) -> None:
    first = await post_webhook(
        client, "products/update", {"id": 7, "title": "Tee"}, shop_domain=SHOP, webhook_id="w-1"
    )
    again = await post_webhook(
        client, "products/update", {"id": 7, "title": "Tee"}, shop_domain=SHOP, webhook_id="w-1"
    )
    assert (first.status_code, first.json()) == (200, {"status": "stored"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert await InboxEvent.count() == 1


@pytest.mark.postgres
async def test_one_event_delivered_to_two_subscriptions_is_stored_once(client: httpx.AsyncClient) -> None:
    # shopify.app.toml's subscription and the shop's own: each delivery its own webhook id, the
    # event's one X-Shopify-Event-Id (Shopify's key for duplicates).
    body = {"id": 7, "title": "Tee"}
    app_specific = await post_webhook(
        client, "products/update", body, shop_domain=SHOP, webhook_id="w-app", event_id="e-1"
    )
    shop_specific = await post_webhook(
        client, "products/update", body, shop_domain=SHOP, webhook_id="w-shop", event_id="e-1"
    )
    assert app_specific.json() == {"status": "stored"}
    assert shop_specific.json() == {"status": "duplicate"}
    assert await InboxEvent.count() == 1
    assert await Job.count() == 1


@pytest.mark.postgres
async def test_the_same_event_id_under_another_topic_is_another_event(client: httpx.AsyncClient) -> None:
    for topic in ("products/create", "products/update"):
        response = await post_webhook(
            client, topic, {"id": 7, "title": "Tee"}, shop_domain=SHOP, webhook_id=topic, event_id="e-1"
        )
        assert response.json() == {"status": "stored"}
    assert await InboxEvent.count() == 2


@pytest.mark.postgres
async def test_previous_secret_is_accepted_during_rotation(settings: object, database_url: str) -> None:
    app = create_app(
        make_settings(database_url, shopify_api_secret="new-secret", shopify_api_secret_previous="old-secret")
    )
    async with lifespan_of(app), asgi_client(app) as client:
        old = await post_webhook(
            client, "products/update", {"id": 1, "title": "Tee"}, shop_domain=SHOP, secret="old-secret"
        )
        new = await post_webhook(
            client, "products/update", {"id": 2, "title": "Tee"}, shop_domain=SHOP, secret="new-secret"
        )
        stale = await post_webhook(
            client,
            "products/update",
            {"id": 3, "title": "Tee"},
            shop_domain=SHOP,
            secret="dev-shopify-secret",
        )
    assert (old.status_code, new.status_code, stale.status_code) == (200, 200, 401)


# -- /webhooks/crm: signed over the raw body with a timestamp -------------------------------------

SECRET = "dev-crm-secret"


async def deliver(
    client: httpx.AsyncClient,
    event_id: str = "evt_1",
    *,
    secret: str = SECRET,
    signed_at: float | None = None,
    body: bytes | None = None,
) -> httpx.Response:
    raw = (
        body
        or json.dumps(
            {"id": event_id, "topic": "product.updated", "account_id": "usr_1", "data": {"id": "prd_1"}}
        ).encode()
    )
    return await client.post(
        "/webhooks/crm",
        content=raw,
        headers={
            "Content-Type": "application/json",
            "X-CRM-Event-Id": event_id,
            "X-CRM-Topic": "product.updated",
            "X-CRM-Signature": crm_signature(raw, secret, int(signed_at or time.time())),
        },
    )


@pytest.mark.postgres
async def test_a_signed_event_is_stored_once_however_often_it_comes(client: httpx.AsyncClient) -> None:
    first, again = await deliver(client), await deliver(client)
    assert (first.status_code, first.json()["status"]) == (200, "stored")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    (event,) = await InboxEvent.select(InboxEvent.source, InboxEvent.topic, InboxEvent.entity_id)
    assert event == {"source": "crm", "topic": "product.updated", "entity_id": "prd_1"}


@pytest.mark.parametrize(
    ("secret", "age_seconds"),
    [("not-the-secret", 0), (SECRET, 3600)],
    ids=["wrong secret", "replayed an hour later"],
)
async def test_a_bad_or_stale_signature_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, secret: str, age_seconds: float
) -> None:
    refused = await deliver(client, secret=secret, signed_at=time.time() - age_seconds)
    assert refused.status_code == 401
    assert await InboxEvent.count() == 0


async def test_a_body_changed_after_signing_is_refused(client: httpx.AsyncClient) -> None:
    raw = b'{"id": "evt_2", "topic": "product.updated", "data": {"id": "prd_1"}}'
    signature = crm_signature(raw, SECRET, int(time.time()))
    tampered = await client.post(
        "/webhooks/crm",
        content=raw.replace(b"prd_1", b"prd_9"),
        headers={"X-CRM-Event-Id": "evt_2", "X-CRM-Topic": "product.updated", "X-CRM-Signature": signature},
    )
    assert tampered.status_code == 401
    assert await InboxEvent.count() == 0


# -- what the signature does not cover: headers must agree with the signed body -------------------

OTHER = "victim.myshopify.com"
# A genuine products/update body, as Shopify signs it (its shop and topic are headers only).
PRODUCT = {"id": 1, "title": "Tee", "variants": [{"id": 11, "price": "10.00"}]}


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("app/uninstalled", {"id": 1, "domain": SHOP, "myshopify_domain": SHOP}),
        ("shop/redact", {"shop_id": 1, "shop_domain": SHOP}),
        ("customers/redact", {"shop_domain": SHOP, "customer": {"id": 4}, "orders_to_redact": []}),
        ("customers/data_request", {"shop_domain": SHOP, "customer": {"id": 4}, "orders_requested": []}),
    ],
)
async def test_a_body_naming_another_shop_than_the_header_is_401_and_stores_nothing(
    client: httpx.AsyncClient, topic: str, payload: dict[str, object]
) -> None:
    forged = await post_webhook(client, topic, payload, shop_domain=OTHER)
    assert forged.status_code == 401
    assert await InboxEvent.count() == 0


@pytest.mark.parametrize("topic", ["app/uninstalled", "shop/redact", "customers/redact", "orders/create"])
async def test_a_body_of_another_topic_relabelled_is_refused_and_stores_nothing(
    client: httpx.AsyncClient, topic: str
) -> None:
    relabelled = await post_webhook(client, topic, PRODUCT, shop_domain=SHOP)
    assert relabelled.status_code in (400, 401)
    assert await InboxEvent.count() == 0


@pytest.mark.postgres
async def test_a_body_of_its_own_topic_and_shop_is_stored(client: httpx.AsyncClient) -> None:
    uninstalled = {"id": 1, "domain": "shop.example", "myshopify_domain": SHOP}
    assert (await post_webhook(client, "app/uninstalled", uninstalled, shop_domain=SHOP)).status_code == 200
    assert (await post_webhook(client, "products/update", PRODUCT, shop_domain=SHOP)).status_code == 200
    assert await InboxEvent.count() == 2


@pytest.mark.postgres
async def test_the_crm_event_id_and_topic_are_the_signed_bodys(client: httpx.AsyncClient) -> None:
    raw = json.dumps({"id": "evt_9", "topic": "product.updated", "account_id": "usr_1", "data": {"id": "p"}})
    signature = crm_signature(raw.encode(), SECRET, int(time.time()))
    replayed = await client.post(
        "/webhooks/crm",
        content=raw,
        headers={
            "X-CRM-Event-Id": "evt_new",
            "X-CRM-Topic": "customer.deleted",
            "X-CRM-Signature": signature,
        },
    )
    assert replayed.status_code == 401
    assert await InboxEvent.count() == 0
    # Without the headers, the body's id and topic are the event's.
    plain = await client.post("/webhooks/crm", content=raw, headers={"X-CRM-Signature": signature})
    assert plain.status_code == 200
    (event,) = await InboxEvent.select(InboxEvent.delivery_key, InboxEvent.topic)
    assert event == {"delivery_key": "crm:evt_9", "topic": "product.updated"}


async def test_a_crm_body_without_id_or_topic_is_400_whatever_the_headers_say(
    client: httpx.AsyncClient,
) -> None:
    raw = b'{"account_id": "usr_1", "data": {"id": "p"}}'
    refused = await client.post(
        "/webhooks/crm",
        content=raw,
        headers={
            "X-CRM-Event-Id": "evt_3",
            "X-CRM-Topic": "product.updated",
            "X-CRM-Signature": crm_signature(raw, SECRET, int(time.time())),
        },
    )
    assert refused.status_code == 400
    assert await InboxEvent.count() == 0


DEEP = b'{"id": 1, "title": "x", "a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize("route", ["/webhooks/shopify", "/webhooks/crm"])
async def test_a_signed_body_nested_too_deep_is_400_not_500(client: httpx.AsyncClient, route: str) -> None:
    headers = {
        "/webhooks/shopify": {
            "X-Shopify-Topic": "products/update",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Webhook-Id": "deep",
            "X-Shopify-Hmac-Sha256": webhook_signature(DEEP, "dev-shopify-secret"),
        },
        "/webhooks/crm": {"X-CRM-Signature": crm_signature(DEEP, SECRET, int(time.time()))},
    }[route]
    response = await client.post(route, content=DEEP, headers=headers)
    assert response.status_code == 400
    assert await InboxEvent.count() == 0
