"""Billing API: appSubscriptionCreate → confirmation page → approve/decline, the
`app_subscriptions/update` webhook, appSubscriptionCancel, activeSubscriptions, the
control API and the state file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from sandbox.shopify import ShopifySandboxConfig, create_shopify_sandbox
from sandbox.tests.integration.shopify.shopify_sandbox_support import (
    MAIN_SHOP,
    SANDBOX_URL,
    SECRET,
    AdminApi,
    FakeClock,
    WebhookReceiver,
    asgi_client,
    eventually,
    mint_token,
    running,
)

RETURN_URL = "http://app.test/billing/return?plan=pro"
SUBSCRIPTION_FIELDS = """id name status test trialDays currentPeriodEnd createdAt
  lineItems { id plan { pricingDetails { ... on AppRecurringPricing {
    price { amount currencyCode } interval } } } }"""
CREATE = f"""mutation($name: String!, $lineItems: [AppSubscriptionLineItemInput!]!, $returnUrl: URL!,
    $trialDays: Int, $test: Boolean) {{
  appSubscriptionCreate(name: $name, lineItems: $lineItems, returnUrl: $returnUrl,
      trialDays: $trialDays, test: $test) {{
    appSubscription {{ {SUBSCRIPTION_FIELDS} }}
    confirmationUrl
    userErrors {{ field message }}
  }}
}}"""
CANCEL = """mutation($id: ID!) { appSubscriptionCancel(id: $id, prorate: true) {
  appSubscription { id status } userErrors { field message } } }"""
ACTIVE = f"{{ currentAppInstallation {{ activeSubscriptions {{ {SUBSCRIPTION_FIELDS} }} }} }}"
SUBSCRIBE = """mutation { webhookSubscriptionCreate(topic: APP_SUBSCRIPTIONS_UPDATE,
  webhookSubscription: {callbackUrl: "http://receiver.test/hooks/billing"}) {
  webhookSubscription { id topic } userErrors { message } } }"""


def line_item(
    amount: str = "19.99", currency: str = "USD", interval: str = "EVERY_30_DAYS"
) -> dict[str, Any]:
    return {
        "plan": {
            "appRecurringPricingDetails": {
                "price": {"amount": amount, "currencyCode": currency},
                "interval": interval,
            }
        }
    }


async def create(admin: AdminApi, **overrides: Any) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "name": "Pro plan",
        "lineItems": [line_item()],
        "returnUrl": RETURN_URL,
        "trialDays": 7,
        "test": True,
    }
    variables.update(overrides)
    body = await admin.graphql(CREATE, variables)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["appSubscriptionCreate"]
    return payload


def charge_id_of(subscription_gid: str) -> str:
    return subscription_gid.rsplit("/", 1)[1]


async def form_actions(client: httpx.AsyncClient, confirmation_url: str) -> dict[str, str]:
    """The page's POST forms, by button label, read from the HTML as a browser would."""
    page = await client.get(confirmation_url)
    assert page.status_code == 200, page.text
    forms = re.findall(r'<form method="post" action="([^"]+)">\s*<button[^>]*>([^<]+)</button>', page.text)
    return {label: action for action, label in forms}


async def decide(client: httpx.AsyncClient, confirmation_url: str, label: str) -> httpx.Response:
    action = (await form_actions(client, confirmation_url))[label]
    return await client.post(action, data={})


def shopify_hmac_ok(raw_body: bytes, header: str) -> bool:
    # Shopify's documented check: base64 HMAC-SHA256 of the raw body with the app secret.
    digest = hmac.new(SECRET.encode(), raw_body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), header)


async def test_create_gives_a_pending_subscription_and_a_confirmation_url(admin: AdminApi) -> None:
    created = await create(admin)
    assert created["userErrors"] == []
    sub = created["appSubscription"]
    assert sub["id"].startswith("gid://shopify/AppSubscription/")
    assert sub["status"] == "PENDING"
    assert sub["name"] == "Pro plan"
    assert sub["test"] is True
    assert sub["trialDays"] == 7
    assert sub["currentPeriodEnd"] is None
    assert sub["createdAt"] == "2026-11-23T00:00:00Z"
    assert sub["lineItems"][0]["plan"]["pricingDetails"] == {
        "price": {"amount": "19.99", "currencyCode": "USD"},
        "interval": "EVERY_30_DAYS",
    }
    charge_id = charge_id_of(sub["id"])
    assert created["confirmationUrl"] == f"{SANDBOX_URL}/shops/{MAIN_SHOP}/admin/charges/{charge_id}/confirm"


async def test_mutation_costs_ten(admin: AdminApi) -> None:
    body = await admin.graphql(
        CREATE,
        {"name": "Basic", "lineItems": [line_item()], "returnUrl": RETURN_URL},
    )
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] >= 10
    assert cost["actualQueryCost"] >= 10


async def test_confirmation_page_shows_the_charge_without_scripts(
    admin: AdminApi, client: httpx.AsyncClient
) -> None:
    created = await create(admin, lineItems=[line_item("120.00", "USD", "ANNUAL")])
    page = await client.get(created["confirmationUrl"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<script" not in html.lower()
    assert "Pro plan" in html
    assert "120.00 USD" in html
    assert "every year" in html
    assert "7 days" in html
    assert "Test charge" in html
    assert set(await form_actions(client, created["confirmationUrl"])) == {"Approve", "Decline"}


async def test_approve_activates_redirects_and_sends_a_signed_webhook(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver, epoch_clock: FakeClock
) -> None:
    assert (await admin.graphql(SUBSCRIBE))["data"]["webhookSubscriptionCreate"]["userErrors"] == []
    created = await create(admin)
    charge_id = charge_id_of(created["appSubscription"]["id"])
    epoch_clock.advance(60)

    response = await decide(client, created["confirmationUrl"], "Approve")
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("http", "app.test", "/billing/return")
    assert dict(parse_qsl(location.query)) == {"plan": "pro", "charge_id": charge_id}

    await eventually(lambda: len(receiver.received) == 1)
    delivery = receiver.received[0]
    assert shopify_hmac_ok(delivery.body, delivery.headers["x-shopify-hmac-sha256"])
    assert delivery.headers["x-shopify-topic"] == "app_subscriptions/update"
    assert delivery.headers["x-shopify-shop-domain"] == MAIN_SHOP
    payload = json.loads(delivery.body)
    shop_gid = (await admin.graphql("{ shop { id } }"))["data"]["shop"]["id"]
    assert payload == {
        "app_subscription": {
            "admin_graphql_api_id": created["appSubscription"]["id"],
            "name": "Pro plan",
            "status": "ACTIVE",
            "admin_graphql_api_shop_id": shop_gid,
            "created_at": "2026-11-23T00:00:00+00:00",
            "updated_at": "2026-11-23T00:01:00+00:00",
            "currency": "USD",
            "capped_amount": None,
        }
    }

    node = await admin.graphql(
        "query($id: ID!) { node(id: $id) { ... on AppSubscription { status currentPeriodEnd } } }",
        {"id": created["appSubscription"]["id"]},
    )
    # Approved one minute in: 7 trial days, then the first 30-day period.
    assert node["data"]["node"] == {"status": "ACTIVE", "currentPeriodEnd": "2026-12-30T00:01:00Z"}
    # The page is single use.
    assert (await client.get(created["confirmationUrl"])).status_code == 409


async def test_decline_marks_declined_and_redirects(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await admin.graphql(SUBSCRIBE)
    created = await create(admin)
    response = await decide(client, created["confirmationUrl"], "Decline")
    assert response.status_code == 302
    charge_id = charge_id_of(created["appSubscription"]["id"])
    assert dict(parse_qsl(urlsplit(response.headers["location"]).query))["charge_id"] == charge_id
    node = await admin.graphql(
        "query($id: ID!) { node(id: $id) { ... on AppSubscription { status } } }",
        {"id": created["appSubscription"]["id"]},
    )
    assert node["data"]["node"] == {"status": "DECLINED"}
    await eventually(lambda: len(receiver.received) == 1)
    assert json.loads(receiver.received[0].body)["app_subscription"]["status"] == "DECLINED"
    assert (await admin.graphql(ACTIVE))["data"]["currentAppInstallation"]["activeSubscriptions"] == []


async def test_approving_a_second_subscription_cancels_the_first(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await admin.graphql(SUBSCRIBE)
    first = await create(admin, name="Basic")
    await decide(client, first["confirmationUrl"], "Approve")
    second = await create(admin, name="Pro")
    await decide(client, second["confirmationUrl"], "Approve")

    listed = (await client.get(f"/_sandbox/shops/{MAIN_SHOP}/app-subscriptions")).json()
    assert [(s["name"], s["status"]) for s in listed["appSubscriptions"]] == [
        ("Basic", "CANCELLED"),
        ("Pro", "ACTIVE"),
    ]
    active = (await admin.graphql(ACTIVE))["data"]["currentAppInstallation"]["activeSubscriptions"]
    assert [s["name"] for s in active] == ["Pro"]
    # Basic ACTIVE, then Basic CANCELLED and Pro ACTIVE.
    await eventually(lambda: len(receiver.received) == 3)
    statuses = sorted(
        (p["name"], p["status"]) for p in (json.loads(r.body)["app_subscription"] for r in receiver.received)
    )
    assert statuses == [("Basic", "ACTIVE"), ("Basic", "CANCELLED"), ("Pro", "ACTIVE")]


async def test_cancel_mutation(admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver) -> None:
    await admin.graphql(SUBSCRIBE)
    created = await create(admin)
    await decide(client, created["confirmationUrl"], "Approve")
    sub_id = created["appSubscription"]["id"]

    cancelled = (await admin.graphql(CANCEL, {"id": sub_id}))["data"]["appSubscriptionCancel"]
    assert cancelled == {"appSubscription": {"id": sub_id, "status": "CANCELLED"}, "userErrors": []}
    await eventually(lambda: len(receiver.received) == 2)
    assert {json.loads(r.body)["app_subscription"]["status"] for r in receiver.received} == {
        "ACTIVE",
        "CANCELLED",
    }
    assert (await admin.graphql(ACTIVE))["data"]["currentAppInstallation"]["activeSubscriptions"] == []
    again = (await admin.graphql(CANCEL, {"id": sub_id}))["data"]["appSubscriptionCancel"]
    assert again["appSubscription"] is None
    assert again["userErrors"][0]["field"] == ["id"]


async def test_cancel_refuses_unknown_and_other_shops_subscriptions(
    admin: AdminApi, client: httpx.AsyncClient
) -> None:
    unknown = await admin.graphql(CANCEL, {"id": "gid://shopify/AppSubscription/999999"})
    assert unknown["data"]["appSubscriptionCancel"] == {
        "appSubscription": None,
        "userErrors": [{"field": ["id"], "message": "Subscription does not exist"}],
    }
    other_shop = "demo-plus.myshopify.com"
    other = AdminApi(client, other_shop, await mint_token(client, other_shop))
    foreign = (await create(other))["appSubscription"]["id"]
    refused = await admin.graphql(CANCEL, {"id": foreign})
    assert refused["data"]["appSubscriptionCancel"]["userErrors"] == [
        {"field": ["id"], "message": "Subscription does not exist"}
    ]
    listed = (await client.get(f"/_sandbox/shops/{other_shop}/app-subscriptions")).json()
    assert listed["appSubscriptions"][0]["status"] == "PENDING"


async def test_active_subscriptions_lists_only_active_ones(
    admin: AdminApi, client: httpx.AsyncClient
) -> None:
    pending = await create(admin, name="Pending")
    declined = await create(admin, name="Declined")
    await decide(client, declined["confirmationUrl"], "Decline")
    active = await create(admin, name="Active", trialDays=None, test=None)
    await decide(client, active["confirmationUrl"], "Approve")
    listed = (await admin.graphql(ACTIVE))["data"]["currentAppInstallation"]["activeSubscriptions"]
    assert [(s["name"], s["status"], s["test"], s["trialDays"]) for s in listed] == [
        ("Active", "ACTIVE", False, 0)
    ]
    assert listed[0]["currentPeriodEnd"] == "2026-12-23T00:00:00Z"
    assert pending["appSubscription"]["status"] == "PENDING"


async def test_user_errors(admin: AdminApi) -> None:
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"name": "  "}, ["name"]),
        ({"lineItems": []}, ["lineItems"]),
        (
            {"lineItems": [line_item("0")]},
            ["lineItems", "0", "plan", "appRecurringPricingDetails", "price", "amount"],
        ),
        (
            {"lineItems": [line_item("-5.00")]},
            ["lineItems", "0", "plan", "appRecurringPricingDetails", "price", "amount"],
        ),
        (
            {"lineItems": [line_item(currency="EUR")]},
            ["lineItems", "0", "plan", "appRecurringPricingDetails", "price", "currencyCode"],
        ),
        ({"returnUrl": "ftp://app.test/back"}, ["returnUrl"]),
        ({"returnUrl": "not a url"}, ["returnUrl"]),
        ({"trialDays": -1}, ["trialDays"]),
        ({"lineItems": [line_item(), line_item()]}, ["lineItems"]),
    ]
    for overrides, field in cases:
        created = await create(admin, **overrides)
        assert created["appSubscription"] is None, overrides
        assert created["confirmationUrl"] is None
        assert [e["field"] for e in created["userErrors"]] == [field], overrides
        assert all(e["message"] for e in created["userErrors"])
    listed = await admin.client.get(f"/_sandbox/shops/{MAIN_SHOP}/app-subscriptions")
    assert listed.json() == {"appSubscriptions": []}


async def test_the_shops_own_currency_is_accepted(client: httpx.AsyncClient) -> None:
    shop = "demo-plus.myshopify.com"  # bills in EUR
    api = AdminApi(client, shop, await mint_token(client, shop))
    created = await create(api, lineItems=[line_item("9.00", "EUR")])
    assert created["userErrors"] == []


async def test_control_status_change_sends_the_webhook(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await admin.graphql(SUBSCRIBE)
    created = await create(admin)
    await decide(client, created["confirmationUrl"], "Approve")
    await eventually(lambda: len(receiver.received) == 1)
    charge_id = charge_id_of(created["appSubscription"]["id"])

    url = f"/_sandbox/shops/{MAIN_SHOP}/app-subscriptions/{charge_id}/status"
    response = await client.post(url, json={"status": "FROZEN"})
    assert response.status_code == 200, response.text
    assert response.json()["appSubscription"]["status"] == "FROZEN"
    assert len(response.json()["webhookIds"]) == 1
    await eventually(lambda: len(receiver.received) == 2)
    assert json.loads(receiver.received[1].body)["app_subscription"]["status"] == "FROZEN"
    assert (await admin.graphql(ACTIVE))["data"]["currentAppInstallation"]["activeSubscriptions"] == []

    assert (await client.post(url, json={"status": "PENDING"})).status_code == 400
    missing = f"/_sandbox/shops/{MAIN_SHOP}/app-subscriptions/424242/status"
    assert (await client.post(missing, json={"status": "ACTIVE"})).status_code == 404


async def test_app_subscriptions_update_is_a_valid_topic(admin: AdminApi) -> None:
    created = (await admin.graphql(SUBSCRIBE))["data"]["webhookSubscriptionCreate"]
    assert created["userErrors"] == []
    assert created["webhookSubscription"]["topic"] == "APP_SUBSCRIPTIONS_UPDATE"


async def test_subscriptions_survive_a_restart(
    make_config: Callable[..., ShopifySandboxConfig], state_file: Path
) -> None:
    config = make_config(state_file=state_file)
    first = create_shopify_sandbox(config)
    async with running(first), asgi_client(first) as client:
        token = await mint_token(client, MAIN_SHOP)
        api = AdminApi(client, MAIN_SHOP, token)
        active = await create(api, name="Kept")
        await decide(client, active["confirmationUrl"], "Approve")
        pending = await create(api, name="Still pending")

    second = create_shopify_sandbox(config)
    async with running(second), asgi_client(second) as client:
        api = AdminApi(client, MAIN_SHOP, token)
        listed = (await api.graphql(ACTIVE))["data"]["currentAppInstallation"]["activeSubscriptions"]
        assert [(s["name"], s["status"]) for s in listed] == [("Kept", "ACTIVE")]
        assert listed[0]["createdAt"] == "2026-11-23T00:00:00Z"
        # A pending charge can still be approved after the restart.
        response = await decide(client, pending["confirmationUrl"], "Approve")
        assert response.status_code == 302
        statuses = (await client.get(f"/_sandbox/shops/{MAIN_SHOP}/app-subscriptions")).json()
        assert [s["status"] for s in statuses["appSubscriptions"]] == ["CANCELLED", "ACTIVE"]


async def test_uninstalling_cancels_the_apps_charges(admin: AdminApi, client: httpx.AsyncClient) -> None:
    active = await create(admin, name="Active")
    await decide(client, active["confirmationUrl"], "Approve")
    await create(admin, name="Pending")
    assert (await client.post(f"/_sandbox/shops/{MAIN_SHOP}/uninstall")).status_code == 200
    listed = (await client.get(f"/_sandbox/shops/{MAIN_SHOP}/app-subscriptions")).json()
    assert [s["status"] for s in listed["appSubscriptions"]] == ["CANCELLED", "CANCELLED"]
