"""Subscribing through Shopify's Billing API (sandbox): approved and declined charges, forged plans,
webhook order, cancelling, frozen subscriptions and their grace period, other shops' charges."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest
import time_machine

from billing.plans import create_plan, set_archived
from billing.services import entitlements
from billing.tables import Subscription
from funnels.tables import Funnel
from lib.clock import utcnow
from tests.support.funnel_wizard import (
    accounts_ready_and_signed_in,
    add_payment_processor,
    complete_wizard,
    post_form,
)
from tests.support.id_tokens import app_home_query, bearer, id_token
from tests.support.shopify_charges import PRO, subscribe_and_decide
from tests.support.shops import OTHER_SHOP, SHOP, install_shop, post_webhook, sign_in
from tests.support.stack import APP_URL, SHOPIFY_URL, Stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with accounts_ready_and_signed_in(database_url) as running:
        await create_plan(PRO)
        yield running


async def test_approved_charge_activates_the_plan_and_lifts_the_limits(stack: Stack) -> None:
    page = await stack.client.get("/billing/")
    assert "Choose Pro" in page.text
    outcome = await subscribe_and_decide(stack, "pro", "approve")
    assert outcome == "/billing/?outcome=active"
    assert "Your new plan is active" in (await stack.client.get(outcome)).text
    limits = await entitlements(SHOP)
    assert (limits.plan_code, limits.live_funnels, limits.upsells_per_funnel) == ("pro", 5, 3)

    await add_payment_processor(stack)
    for subdomain in ("first-one", "second-one"):
        funnel_id = await complete_wizard(stack, subdomain=subdomain)
        await post_form(stack, f"/funnels/{funnel_id}/publish")
        await stack.drain()
    assert await Funnel.count().where(Funnel.status == "live") == 2


async def test_a_fresh_install_upgrades_to_a_plan_seeded_by_the_migrations(stack: Stack) -> None:
    page = await stack.client.get("/billing/")
    assert "Choose Launch" in page.text
    assert "Choose Scale" in page.text

    outcome = await subscribe_and_decide(stack, "launch", "approve", expect=("Launch", "19.00"))

    assert outcome == "/billing/?outcome=active"
    limits = await entitlements(SHOP)
    assert (limits.plan_code, limits.live_funnels, limits.upsells_per_funnel) == ("launch", 3, 3)


async def test_declined_charge_keeps_the_free_plan(stack: Stack) -> None:
    outcome = await subscribe_and_decide(stack, "pro", "decline")
    assert outcome == "/billing/?outcome=declined"
    assert (await entitlements(SHOP)).plan_code == "free"


async def test_archived_plan_chosen_by_a_forged_form_is_refused(stack: Stack) -> None:
    from billing.tables import Plan

    pro = await Plan.select(Plan.id).where(Plan.code == "pro").first()
    assert pro is not None
    await set_archived(pro["id"], True)
    refused = await post_form(stack, "/billing/subscribe", {"plan": "pro"})
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "not available" in refused.text  # type: ignore[attr-defined]
    for forged in ("free", "does-not-exist"):
        again = await post_form(stack, "/billing/subscribe", {"plan": forged})
        assert again.status_code == 400  # type: ignore[attr-defined]
    assert await Subscription.count() == 0


async def test_out_of_order_webhooks_end_in_the_latest_state(stack: Stack) -> None:
    await subscribe_and_decide(stack, "pro", "approve")
    row = await Subscription.select(Subscription.external_id).first()
    assert row is not None
    gid = row["external_id"]

    def event(status: str, updated_at: str) -> dict[str, object]:
        return {
            "app_subscription": {
                "admin_graphql_api_id": gid,
                "status": status.upper(),
                "updated_at": updated_at,
            }
        }

    # Cancelled later in time, but its webhook arrives before an older "active" one.
    await post_webhook(
        stack.client, "app_subscriptions/update", event("cancelled", "2099-01-02T00:00:00Z"), shop_domain=SHOP
    )
    await post_webhook(
        stack.client, "app_subscriptions/update", event("active", "2099-01-01T00:00:00Z"), shop_domain=SHOP
    )
    duplicate = event("active", "2099-01-01T00:00:00Z")
    await post_webhook(
        stack.client, "app_subscriptions/update", duplicate, shop_domain=SHOP, webhook_id="same"
    )
    await post_webhook(
        stack.client, "app_subscriptions/update", duplicate, shop_domain=SHOP, webhook_id="same"
    )
    await stack.drain()
    assert (await Subscription.select(Subscription.status).first()) == {"status": "cancelled"}
    assert (await entitlements(SHOP)).plan_code == "free"


async def the_subscription() -> dict[str, object]:
    row = await Subscription.select().where(Subscription.shop_domain == SHOP).first()
    assert row is not None
    return row


def status_event(gid: str, status: str, at: datetime) -> dict[str, object]:
    return {"app_subscription": {"admin_graphql_api_id": gid, "status": status, "updated_at": at.isoformat()}}


async def test_cancelling_the_paid_plan_returns_to_the_free_plan(stack: Stack) -> None:
    await subscribe_and_decide(stack, "pro", "approve")
    gid = str((await the_subscription())["external_id"])
    page = await stack.client.get("/billing/")
    assert f'name="subscription" value="{gid}"' in page.text
    cancelled = await post_form(stack, "/billing/cancel", {"subscription": gid})
    assert cancelled.status_code == 303  # type: ignore[attr-defined]
    assert cancelled.headers["location"] == "/billing/"  # type: ignore[attr-defined]
    assert (await the_subscription())["status"] == "cancelled"
    assert (await entitlements(SHOP)).plan_code == "free"


async def test_another_shops_charge_is_refused_in_webhooks_forms_and_returns(stack: Stack) -> None:
    await subscribe_and_decide(stack, "pro", "approve")
    gid = str((await the_subscription())["external_id"])
    later = utcnow() + timedelta(minutes=5)
    await post_webhook(
        stack.client,
        "app_subscriptions/update",
        status_event(gid, "CANCELLED", later),
        shop_domain=OTHER_SHOP,
    )
    await stack.drain()
    assert (await the_subscription())["status"] == "active"

    minted = await stack.shopify.post(f"/_sandbox/shops/{OTHER_SHOP}/tokens")
    await install_shop(stack.app, OTHER_SHOP, access_token=minted.json()["access_token"])
    await sign_in(stack.client, OTHER_SHOP)
    refused = await post_form(stack, "/billing/cancel", {"subscription": gid})
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "could not find that subscription for your shop" in refused.text  # type: ignore[attr-defined]
    returned = await stack.client.get(f"/billing/return?charge_id={gid.rsplit('/', 1)[1]}")
    assert returned.headers["location"] == "/billing/?outcome=pending"
    assert (await the_subscription())["status"] == "active"
    assert await Subscription.count().where(Subscription.shop_domain == OTHER_SHOP) == 0


async def test_frozen_subscription_warns_then_falls_back_to_free_until_active_again(stack: Stack) -> None:
    await subscribe_and_decide(stack, "pro", "approve")
    gid = str((await the_subscription())["external_id"])
    frozen_at = utcnow() + timedelta(seconds=1)
    await post_webhook(
        stack.client, "app_subscriptions/update", status_event(gid, "FROZEN", frozen_at), shop_domain=SHOP
    )
    await stack.drain()
    row = await the_subscription()
    assert (row["status"], row["payment_failed_at"]) == ("frozen", frozen_at)
    assert (await entitlements(SHOP)).plan_code == "pro"  # in the grace period
    for path in ("/app/", "/billing/"):
        page = await stack.client.get(path)
        assert "Shopify could not charge your Pro plan" in page.text, path
        assert "Update your payment method in your Shopify admin" in page.text, path
    manage = await stack.client.get("/billing/manage")
    assert manage.headers["location"] == f"{SHOPIFY_URL}/shops/{SHOP}/admin/settings/billing"

    with time_machine.travel(frozen_at + timedelta(days=7, hours=1), tick=True):
        await sign_in(stack.client, SHOP)
        assert (await entitlements(SHOP)).plan_code == "free"
        page = await stack.client.get("/billing/")
        assert "Your shop has the free plan’s limits" in page.text
        await post_webhook(
            stack.client, "app_subscriptions/update", status_event(gid, "ACTIVE", utcnow()), shop_domain=SHOP
        )
        await stack.drain()
        assert (await entitlements(SHOP)).plan_code == "pro"
        assert (await the_subscription())["payment_failed_at"] is None
        assert "Your last payment failed" not in (await stack.client.get("/app/")).text


async def test_inside_the_admin_the_charge_confirmation_is_reached_by_leaving_the_iframe(
    stack: Stack,
) -> None:
    # An htmx request from the app home (ID token, no cookie): the package's parent redirect,
    # which App Bridge (embedded.js for htmx) turns into the admin's window going there.
    started = await stack.client.post(
        "/billing/subscribe", headers=bearer(id_token(SHOP)), data={"plan": "pro"}
    )
    assert started.status_code == 401, started.text
    confirmation = started.headers["x-shopify-api-request-failure-reauthorize-url"]
    assert confirmation.startswith(f"{SHOPIFY_URL}/shops/{SHOP}/admin/charges/")
    page = await stack.shopify.get(urlsplit(confirmation).path)
    assert "29.00" in page.text


async def test_a_charge_approved_after_leaving_the_iframe_comes_back_into_the_admin(stack: Stack) -> None:
    # Started inside the admin, Shopify's page returns to the app *in the admin* (the merchant has
    # no cookie of ours outside the iframe), at Shopify's admin address for the app's handle.
    started = await stack.client.post(
        "/billing/subscribe", headers=bearer(id_token(SHOP)), data={"plan": "pro"}
    )
    confirmation = urlsplit(started.headers["x-shopify-api-request-failure-reauthorize-url"])
    decided = await stack.shopify.post(confirmation.path.replace("/confirm", "/approve"))
    back = urlsplit(decided.headers["location"])
    store = SHOP.removesuffix(".myshopify.com")
    assert f"{back.scheme}://{back.netloc}{back.path}" == (
        f"https://admin.shopify.com/store/{store}/apps/funnelsync/billing/return"
    )

    # The admin loads that page of the app in its iframe; the app's redirect to the billing page
    # stays in the iframe, keeping the admin's parameters (the next load gets its ID token).
    query = {**dict(parse_qsl(back.query)), **app_home_query(SHOP, id_token(SHOP))}
    returned = await stack.client.get("/billing/return", params=query)
    assert returned.status_code == 302, returned.text
    location = returned.headers["location"]
    assert location.startswith("/billing/?outcome=active&"), location
    assert f"shop={SHOP}" in location
    assert "embedded=1" in location
    assert (await the_subscription())["status"] == "active"


async def test_a_charge_started_outside_the_admin_returns_to_the_app_itself(stack: Stack) -> None:
    started = await post_form(stack, "/billing/subscribe", {"plan": "pro"})
    confirmation = urlsplit(started.headers["location"])  # type: ignore[attr-defined]
    decided = await stack.shopify.post(confirmation.path.replace("/confirm", "/approve"))
    assert decided.headers["location"].startswith(f"{APP_URL}/billing/return?charge_id=")


async def refused_for_the_plan(stack: Stack) -> int:
    """A second funnel the free plan (1 live funnel) refuses to publish; its review links to the
    plans with `then` set to come back to it."""
    await add_payment_processor(stack)
    first = await complete_wizard(stack, subdomain="first-one")
    await post_form(stack, f"/funnels/{first}/publish")
    await stack.drain()
    second = await complete_wizard(stack, subdomain="second-one")
    refused = await post_form(stack, f"/funnels/{second}/publish")
    assert refused.status_code == 400  # type: ignore[attr-defined]
    link = f"/billing/?then=/funnels/{second}/review"
    assert f'href="{link}"' in refused.text  # type: ignore[attr-defined]
    billing = await stack.client.get(link)
    assert f'<input type="hidden" name="then" value="/funnels/{second}/review">' in billing.text
    assert f'<a href="/funnels/{second}/review">Go back without changing plan</a>' in billing.text
    return second


async def approve(stack: Stack, confirmation_url: str, decision: str = "approve") -> httpx.URL:
    """The merchant's decision on Shopify's confirmation page: where Shopify sends them back."""
    path = urlsplit(confirmation_url).path
    decided = await stack.shopify.post(path.replace("/confirm", f"/{decision}"))
    assert decided.status_code == 302, decided.text
    return httpx.URL(decided.headers["location"])


async def test_upgrading_from_a_refused_publish_comes_back_to_check_answers(stack: Stack) -> None:
    funnel_id = await refused_for_the_plan(stack)
    review = f"/funnels/{funnel_id}/review"
    started = await post_form(stack, "/billing/subscribe", {"plan": "launch", "then": review})
    back = await approve(stack, started.headers["location"])  # type: ignore[attr-defined]
    assert (back.host, back.path) == ("app.test", "/billing/return")
    assert back.params["then"] == review

    returned = await stack.client.get(back.path, params=back.params)

    assert returned.headers["location"] == f"{review}?billing=active"
    page = await stack.client.get(returned.headers["location"])
    assert "Your new plan is active. You can publish now." in page.text
    published = await post_form(stack, f"/funnels/{funnel_id}/publish")
    assert published.headers["location"] == f"/funnels/{funnel_id}/publishing"  # type: ignore[attr-defined]


async def test_a_declined_upgrade_stays_on_billing_with_the_way_back(stack: Stack) -> None:
    review = "/funnels/7/review"
    started = await post_form(stack, "/billing/subscribe", {"plan": "launch", "then": review})
    back = await approve(stack, started.headers["location"], "decline")  # type: ignore[attr-defined]
    returned = await stack.client.get(back.path, params=back.params)
    assert returned.headers["location"] == "/billing/?outcome=declined&then=%2Ffunnels%2F7%2Freview"
    page = await stack.client.get(returned.headers["location"])
    assert "You declined the charge" in page.text
    assert f'<a href="{review}">Go back without changing plan</a>' in page.text


@pytest.mark.parametrize(
    "then",
    [
        "https://evil.test/phish",
        "//evil.test/phish",
        "/\\evil.test",
        "javascript:alert(1)",
        "/x\r\nLocation: //e",
    ],
)
async def test_an_outside_address_in_then_is_ignored(stack: Stack, then: str) -> None:
    started = await post_form(stack, "/billing/subscribe", {"plan": "launch", "then": then})
    back = await approve(stack, started.headers["location"])  # type: ignore[attr-defined]
    assert "then" not in back.params  # never handed to Shopify
    assert "evil" not in (await stack.client.get(f"/billing/?then={quote(then)}")).text

    # Nor followed when someone writes it into the return URL themselves.
    returned = await stack.client.get(back.path, params={**back.params, "then": then})
    assert returned.headers["location"] == "/billing/?outcome=active"


async def test_inside_the_admin_the_upgrade_comes_back_to_check_answers_in_the_iframe(
    database_url: str,
) -> None:
    async with accounts_ready_and_signed_in(database_url, shopify_admin_origin=SHOPIFY_URL) as stack:
        stack.client.cookies.clear()  # the iframe has no cookie: only ID tokens
        listed = await stack.shopify.post(f"/_sandbox/shops/{SHOP}/app-installation")  # in the admin's apps
        assert listed.status_code == 200, listed.text
        review = "/funnels/7/review"
        started = await stack.client.post(
            "/billing/subscribe", headers=bearer(id_token(SHOP)), data={"plan": "launch", "then": review}
        )
        assert started.status_code == 401, started.text  # the package's way out of the iframe
        confirmation = started.headers["x-shopify-api-request-failure-reauthorize-url"]
        back = await approve(stack, confirmation)
        # Shopify sends the admin's window back to the app's page in the admin, not to the app.
        store = SHOP.removesuffix(".myshopify.com")
        assert (back.host, back.path) == ("shopify.test", f"/store/{store}/apps/funnelsync/billing/return")
        assert back.params["then"] == review

        admin = await stack.shopify.get(back.path, params=back.params, follow_redirects=True)
        assert admin.status_code == 200, admin.text
        found = re.search(r'id="app-frame"[^>]* src="([^"]+)"', admin.text)
        assert found, admin.text
        frame = httpx.URL(html.unescape(found[1]))
        assert (frame.host, frame.path) == ("app.test", "/billing/return")
        assert frame.params["id_token"]
        assert frame.params["charge_id"]

        returned = await stack.client.get(frame.path, params=frame.params)  # the iframe's page load

        # Inside the iframe the redirect keeps the admin's parameters (the next load is verified).
        assert returned.headers["location"].startswith(f"{review}?billing=active&"), returned.headers
        assert "embedded=1" in returned.headers["location"]
        assert (await entitlements(SHOP)).plan_code == "launch"
