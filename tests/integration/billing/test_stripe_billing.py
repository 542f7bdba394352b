"""Billing through Stripe (BILLING_PROVIDER=stripe): the app's routes, the official SDK over HTTP
against the Stripe sandbox, its hosted checkout and portal pages and its signed webhooks."""

from __future__ import annotations

import copy
import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import time_machine

from billing.plans import PlanForm, set_archived, update_plan
from billing.services import entitlements
from billing.tables import Plan, ProviderObject, Subscription
from jobqueue.tables import Job
from tests.support.funnel_wizard import post_form
from tests.support.id_tokens import bearer, id_token
from tests.support.shops import OTHER_SHOP, SHOP, sign_in
from tests.support.stack import SHOPIFY_URL
from tests.support.stripe_stack import (
    GOOD_CARD,
    PRO,
    StripeStack,
    installed_and_signed_in,
    stripe_inbox,
    stripe_stack_with_plans,
)


@pytest.fixture
async def stripe_stack(database_url: str) -> AsyncIterator[StripeStack]:
    async with stripe_stack_with_plans(database_url) as running:
        yield running


async def plan_id(code: str) -> int:
    row = await Plan.select(Plan.id).where(Plan.code == code).first()
    assert row is not None
    return int(row["id"])


async def the_subscription(shop: str = SHOP) -> dict[str, object]:
    row = await Subscription.select().where(Subscription.shop_domain == shop).first()
    assert row is not None, f"no subscription for {shop}"
    return row


def stripe_event(stack: StripeStack, event_type: str) -> dict[str, object]:
    """The sandbox's newest event of a type, as it was sent."""
    return copy.deepcopy(next(e for e in stack.objects("event") if e["type"] == event_type))


async def stop_webhooks(stack: StripeStack) -> None:
    """Stripe keeps the events; the test delivers them itself, in the order it chooses."""
    for endpoint in (await stack.control("GET", "/webhook_endpoints"))["data"]:
        await stack.control("DELETE", f"/webhook_endpoints/{endpoint['id']}")


@pytest.mark.postgres
async def test_checkout_session_completed_subscribes_the_shop(stripe_stack: StripeStack) -> None:
    page = await stripe_stack.client.get("/billing/")
    assert "Choose Pro" in page.text
    assert "Stripe’s secure checkout page" in page.text

    back = await stripe_stack.subscribe("pro", follow_return=False)
    await stripe_stack.settle()  # the webhooks alone, before the merchant is back
    limits = await entitlements(SHOP)
    assert (limits.plan_code, limits.live_funnels, limits.synced_orders_per_month) == ("pro", 5, 5000)
    row = await the_subscription()
    assert (row["provider"], row["status"]) == ("stripe", "active")
    assert str(row["external_id"]).startswith("sub_")
    assert row["current_period_end"] is not None
    topics = {item["topic"]: item["status"] for item in await stripe_inbox()}
    assert topics == {
        "customer.subscription.created": "processed",
        "invoice.paid": "processed",
        "checkout.session.completed": "processed",
    }

    # What Stripe holds: a Product for the plan, a Price with the lookup key, a Customer for the shop.
    [product] = stripe_stack.objects("product")
    assert (product["name"], product["metadata"]["plan_code"]) == ("Pro", "pro")
    [price] = stripe_stack.objects("price")
    assert (price["product"], price["unit_amount"], price["currency"]) == (product["id"], 2900, "usd")
    assert (price["recurring"]["interval"], price["lookup_key"]) == ("month", "funnelsync_pro")
    [customer] = stripe_stack.objects("customer")
    assert customer["metadata"] == {"shop_domain": SHOP}
    [subscription] = stripe_stack.objects("subscription")
    assert subscription["customer"] == customer["id"]

    url = httpx.URL(back)
    returned = await stripe_stack.client.get(f"{url.path}?{url.query.decode()}")
    assert returned.headers["location"] == "/billing/?outcome=active"
    page = await stripe_stack.client.get("/billing/?outcome=active")
    assert "Your new plan is active." in page.text
    assert "Your plan: Pro" in page.text
    assert "29.00 USD a month, billed by Stripe" in page.text
    assert "Manage billing with Stripe" in page.text


async def test_stripe_objects_are_made_once_with_idempotency_keys(stripe_stack: StripeStack) -> None:
    await stripe_stack.subscribe("pro")
    await stripe_stack.settle()
    # Every create carried our idempotency key (the SDK would otherwise add its own).
    keys = list(stripe_stack.sandbox.state.idempotency)
    assert len(keys) == 4  # product, price, customer, checkout session
    assert all(key.startswith("funnelsync-") for key in keys)

    # The app forgets what it made (a crash between the create and the save): making it
    # again replays Stripe's answer instead of making a second product and price.
    await ProviderObject.delete().where(ProviderObject.kind.is_in(["product", "price"]))
    await installed_and_signed_in(stripe_stack.stack, OTHER_SHOP)
    await stripe_stack.subscribe("pro")
    await stripe_stack.settle()
    assert len(stripe_stack.objects("product")) == 1
    assert len(stripe_stack.objects("price")) == 1
    assert len(stripe_stack.objects("customer")) == 2  # one per shop
    assert (await entitlements(OTHER_SHOP)).plan_code == "pro"


async def test_the_return_redirect_alone_records_a_trial(stripe_stack: StripeStack) -> None:
    await stop_webhooks(stripe_stack)
    outcome = await stripe_stack.subscribe("growth")
    assert outcome == "/billing/?outcome=trialing"
    row = await the_subscription()
    assert (row["status"], row["trial_days"]) == ("trialing", 14)
    assert row["trial_end"] is not None
    assert (await entitlements(SHOP)).plan_code == "growth"
    page = await stripe_stack.client.get(outcome)
    assert "starting with its free trial" in page.text
    assert f"Free trial until {row['trial_end'].strftime('%d %B %Y')}" in page.text  # type: ignore[attr-defined]


@pytest.mark.postgres
async def test_duplicate_deliveries_are_stored_and_applied_once(stripe_stack: StripeStack) -> None:
    await stripe_stack.control("POST", "/faults", {"kind": "duplicate", "count": 3})
    await stripe_stack.subscribe("pro", follow_return=False)
    await stripe_stack.settle()
    deliveries = stripe_stack.sandbox.state.deliveries
    emitted = {e["id"] for e in stripe_stack.objects("event")}
    assert len(deliveries) == 2 * len(emitted)  # each event sent twice, both answered 2xx
    assert all(d["delivered"] for d in deliveries)
    inbox = await stripe_inbox()
    assert sorted(str(row["delivery_key"]) for row in inbox) == sorted(f"stripe:{e}" for e in emitted)
    assert await Job.count().where(Job.kind == "sync.process_inbox_event") == len(emitted)

    again = await stripe_stack.post_event(stripe_event(stripe_stack, "invoice.paid"))
    assert again.json() == {"status": "duplicate"}
    assert (await the_subscription())["status"] == "active"


@pytest.mark.postgres
async def test_events_sent_in_reverse_order_end_in_the_latest_state(stripe_stack: StripeStack) -> None:
    # One batch reversed by Stripe: checkout completed, then invoice paid, then subscription created.
    await stripe_stack.control("POST", "/faults", {"kind": "out_of_order", "count": 1})
    await stripe_stack.subscribe("pro", follow_return=False)
    await stripe_stack.settle()
    assert (await the_subscription())["status"] == "active"

    # Cancelled in the portal one day later, ended at the period's end: delivered newest first.
    await stop_webhooks(stripe_stack)
    await stripe_stack.control("POST", "/clock/advance", {"days": 1})
    portal = await stripe_stack.client.get("/billing/manage")
    assert portal.status_code == 302
    portal_path = httpx.URL(portal.headers["location"]).path
    subscription_id = str((await the_subscription())["external_id"])
    cancelled = await stripe_stack.http.post(f"{portal_path}/subscriptions/{subscription_id}/cancel")
    assert cancelled.status_code == 303
    await stripe_stack.control("POST", "/clock/advance", {"days": 31})
    updated = stripe_event(stripe_stack, "customer.subscription.updated")
    deleted = stripe_event(stripe_stack, "customer.subscription.deleted")
    assert updated["created"] < deleted["created"]  # type: ignore[operator]

    for event in (deleted, updated):
        assert (await stripe_stack.post_event(event)).json() == {"status": "stored"}
    await stripe_stack.stack.drain()
    row = await the_subscription()
    assert row["status"] == "cancelled"  # the older "cancels at period end" did not revive it
    assert (await entitlements(SHOP)).plan_code == "free"


async def test_two_different_states_in_one_second_are_settled_by_asking_stripe(
    stripe_stack: StripeStack,
) -> None:
    await stripe_stack.subscribe("pro")
    await stripe_stack.settle()
    created = stripe_event(stripe_stack, "customer.subscription.created")
    contradicting = stripe_stack.event(
        "customer.subscription.updated",
        {**created["data"]["object"], "status": "past_due"},  # type: ignore[index]
        int(created["created"]),  # type: ignore[call-overload]
    )
    assert (await stripe_stack.post_event(contradicting)).json() == {"status": "stored"}
    await stripe_stack.stack.drain()
    assert (await the_subscription())["status"] == "active"  # what Stripe says the subscription is


@pytest.mark.postgres
async def test_failed_payment_banner_grace_then_free_limits_then_paid_restores(
    stripe_stack: StripeStack,
) -> None:
    await stripe_stack.subscribe("pro")
    await stripe_stack.settle()
    renewal = await stripe_stack.control("POST", "/clock/advance", {"days": 31, "fail_payments": 1})
    assert renewal["failed"] == 1
    await stripe_stack.settle()

    row = await the_subscription()
    assert row["status"] == "past_due"
    failed_at = row["payment_failed_at"]
    assert failed_at is not None
    assert row["grace_ends_at"] == failed_at + timedelta(days=7)  # type: ignore[operator]
    assert (await entitlements(SHOP)).plan_code == "pro"  # the grace period keeps the limits
    for path in ("/app/", "/billing/"):
        page = await stripe_stack.client.get(path)
        assert "Your last payment failed" in page.text, path
        assert 'href="/billing/manage">Update your payment method with Stripe' in page.text, path
    to_portal = await stripe_stack.client.get("/billing/manage")
    assert to_portal.headers["location"].startswith(f"{stripe_stack.url}/portal/bps_")

    with time_machine.travel(row["grace_ends_at"] + timedelta(hours=1), tick=True):  # type: ignore[operator]
        await sign_in(stripe_stack.client, SHOP)  # a week later: a new session
        limits = await entitlements(SHOP)
        assert (limits.plan_code, limits.live_funnels, limits.payment_overdue) == ("free", 1, True)
        page = await stripe_stack.client.get("/billing/")
        assert "Your shop has the free plan’s limits" in page.text
        assert "Your plan: Free (shared CRM)" in page.text
        assert "Nothing was deleted" in page.text
        assert (await the_subscription())["plan"] == await plan_id("pro")  # nothing deleted

        paid = await stripe_stack.control("POST", "/clock/advance", {"days": 31})
        assert paid["renewed"] >= 1
        await stripe_stack.settle()
        row = await the_subscription()
        assert (row["status"], row["payment_failed_at"], row["grace_ends_at"]) == ("active", None, None)
        assert (await entitlements(SHOP)).plan_code == "pro"
        page = await stripe_stack.client.get("/billing/")
        assert "payment failed" not in page.text.lower()
        assert "Your plan: Pro" in page.text


async def test_an_archived_plan_chosen_by_a_forged_form_is_refused(stripe_stack: StripeStack) -> None:
    await set_archived(await plan_id("pro"), True)
    page = await stripe_stack.client.get("/billing/")
    assert "Choose Pro" not in page.text
    for forged in ("pro", "free", "does-not-exist"):
        refused = await post_form(stripe_stack.stack, "/billing/subscribe", {"plan": forged})
        assert refused.status_code == 400  # type: ignore[attr-defined]
        assert "That plan is not available" in refused.text  # type: ignore[attr-defined]
    assert stripe_stack.objects("checkout.session") == []
    assert await Subscription.count() == 0


async def test_another_shops_subscription_is_refused_in_forms_returns_and_events(
    stripe_stack: StripeStack,
) -> None:
    await stripe_stack.subscribe("pro")
    await stripe_stack.settle()
    theirs = await the_subscription(SHOP)
    their_session = stripe_stack.objects("checkout.session")[0]["id"]

    await installed_and_signed_in(stripe_stack.stack, OTHER_SHOP)
    started = await post_form(stripe_stack.stack, "/billing/subscribe", {"plan": "growth"})
    assert started.status_code == 303  # type: ignore[attr-defined]  # OTHER_SHOP now has a customer
    for path, form in (
        ("/billing/cancel", {"subscription": str(theirs["external_id"])}),
        ("/billing/subscribe", {"plan": "growth", "subscription": str(theirs["external_id"])}),
    ):
        refused = await post_form(stripe_stack.stack, path, form)
        assert refused.status_code == 400, path  # type: ignore[attr-defined]
        assert "could not find that subscription for your shop" in refused.text  # type: ignore[attr-defined]
    returned = await stripe_stack.client.get(f"/billing/checkout/return?session_id={their_session}")
    assert returned.headers["location"] == "/billing/?outcome=pending"

    # Events that put SHOP's subscription (or its payment) under OTHER_SHOP's customer.
    other_customer = (
        await ProviderObject.select(ProviderObject.external_id)
        .where(ProviderObject.key == f"stripe:customer:{OTHER_SHOP}")
        .first()
    )
    assert other_customer is not None
    subscription = copy.deepcopy(stripe_stack.objects("subscription")[0])
    subscription.update(customer=other_customer["external_id"], status="canceled")
    naming_shop = stripe_stack.event("customer.subscription.deleted", subscription, 4_000_000_000)
    no_metadata = stripe_stack.event(
        "customer.subscription.deleted", {**subscription, "metadata": {}}, 4_000_000_000
    )
    invoice = copy.deepcopy(stripe_event(stripe_stack, "invoice.paid")["data"]["object"])  # type: ignore[index]
    invoice.update(customer=other_customer["external_id"])
    invoice["parent"]["subscription_details"]["metadata"] = {}
    failed = stripe_stack.event("invoice.payment_failed", invoice, 4_000_000_000)
    for event in (naming_shop, no_metadata, failed):
        assert (await stripe_stack.post_event(event)).json() == {"status": "stored"}
    await stripe_stack.stack.drain()

    row = await the_subscription(SHOP)
    assert (row["status"], row["shop_domain"], row["payment_failed_at"]) == ("active", SHOP, None)
    assert (await entitlements(SHOP)).plan_code == "pro"
    assert await Subscription.count().where(Subscription.shop_domain == OTHER_SHOP) == 0


async def test_a_price_change_keeps_subscribers_on_their_price(stripe_stack: StripeStack) -> None:
    await stripe_stack.subscribe("pro")
    await stripe_stack.settle()
    pro = await plan_id("pro")
    errors = await update_plan(pro, PlanForm.from_data({**PRO.values(), "price": "39.00"}))
    assert errors == {}

    page = await stripe_stack.client.get("/billing/")
    assert "29.00 USD a month, billed by Stripe" in page.text
    assert "39.00 USD / month" in page.text  # what new subscribers pay
    assert "You keep the price you signed up with." in page.text

    await installed_and_signed_in(stripe_stack.stack, OTHER_SHOP)
    await stripe_stack.subscribe("pro")
    await stripe_stack.settle()
    newer, older = stripe_stack.objects("price")
    assert (newer["unit_amount"], newer["lookup_key"], newer["active"]) == (3900, "funnelsync_pro", True)
    assert (older["unit_amount"], older["lookup_key"], older["active"]) == (2900, None, False)

    renewed = await stripe_stack.control("POST", "/clock/advance", {"days": 32})
    assert renewed["renewed"] == 2
    await stripe_stack.settle()
    cycle = [i for i in stripe_stack.objects("invoice") if i["billing_reason"] == "subscription_cycle"]
    assert sorted(i["amount_paid"] for i in cycle) == [2900, 3900]  # each shop renews at its own price
    first, second = await the_subscription(SHOP), await the_subscription(OTHER_SHOP)
    assert first["plan_price"] != second["plan_price"]


@pytest.mark.postgres
async def test_changing_plan_moves_the_stripe_subscription(stripe_stack: StripeStack) -> None:
    await stripe_stack.subscribe("pro")
    await stripe_stack.settle()
    subscription_id = str((await the_subscription())["external_id"])
    changed = await post_form(
        stripe_stack.stack, "/billing/subscribe", {"plan": "growth", "subscription": subscription_id}
    )
    assert changed.status_code == 303  # type: ignore[attr-defined]
    assert changed.headers["location"] == "/billing/?outcome=changed"  # type: ignore[attr-defined]
    assert (await entitlements(SHOP)).plan_code == "growth"  # at once, from Stripe's answer
    await stripe_stack.settle()
    [subscription] = stripe_stack.objects("subscription")  # the same one, not a second
    assert subscription["id"] == subscription_id
    assert subscription["items"]["data"][0]["price"]["unit_amount"] == 4900
    row = await the_subscription()
    assert (row["plan"], row["status"]) == (await plan_id("growth"), "active")
    page = await stripe_stack.client.get("/billing/?outcome=changed")
    assert "Your plan was changed." in page.text
    assert "Your plan: Growth" in page.text


async def test_cancel_goes_through_the_portal_and_ends_at_the_period_end(stripe_stack: StripeStack) -> None:
    await stripe_stack.subscribe("pro")
    await stripe_stack.settle()
    assert (await stripe_stack.client.get("/billing/manage")).status_code == 302  # Growth is at Stripe now
    assert any(p["unit_amount"] == 4900 and p["active"] for p in stripe_stack.objects("price"))
    await set_archived(await plan_id("growth"), True)
    subscription_id = str((await the_subscription())["external_id"])
    to_portal = await post_form(stripe_stack.stack, "/billing/cancel", {"subscription": subscription_id})
    assert to_portal.status_code == 303  # type: ignore[attr-defined]
    portal = httpx.URL(to_portal.headers["location"])  # type: ignore[attr-defined]
    assert str(portal).startswith(f"{stripe_stack.url}/portal/bps_")
    page = await stripe_stack.http.get(portal.path)
    assert "Pro: $29.00 per month" in page.text
    assert "Growth" not in page.text  # an archived plan is not offered
    await stripe_stack.http.post(f"{portal.path}/subscriptions/{subscription_id}/cancel")
    await stripe_stack.settle()

    row = await the_subscription()
    assert (row["status"], row["cancel_at_period_end"]) == ("active", True)
    assert (await entitlements(SHOP)).plan_code == "pro"  # paid until the period ends
    page = await stripe_stack.client.get("/billing/")
    assert "Cancelled: the plan ends on" in page.text

    await stripe_stack.control("POST", "/clock/advance", {"days": 32})
    await stripe_stack.settle()
    assert (await the_subscription())["status"] == "cancelled"
    assert (await entitlements(SHOP)).plan_code == "free"


async def test_trial_will_end_is_applied(stripe_stack: StripeStack) -> None:
    await stripe_stack.subscribe("growth")
    await stripe_stack.settle()
    subscription_id = str((await the_subscription())["external_id"])
    await stripe_stack.control("POST", f"/subscriptions/{subscription_id}/trial_will_end")
    await stripe_stack.settle()
    topics = {row["topic"]: row["status"] for row in await stripe_inbox()}
    assert topics["customer.subscription.trial_will_end"] == "processed"
    assert (await the_subscription())["status"] == "trialing"


async def test_leaving_the_checkout_changes_nothing(stripe_stack: StripeStack) -> None:
    started = await post_form(stripe_stack.stack, "/billing/subscribe", {"plan": "pro"})
    assert started.status_code == 303  # type: ignore[attr-defined]
    [session] = stripe_stack.objects("checkout.session")
    assert session["ui_mode"] == "hosted_page"  # what billing asks for, as the pinned API names it
    checkout = await stripe_stack.http.get(httpx.URL(session["url"]).path)
    assert f'href="{session["cancel_url"]}"' in checkout.text  # "Cancel and go back"
    back = httpx.URL(session["cancel_url"])
    page = await stripe_stack.client.get(f"{back.path}?{back.query.decode()}")
    assert "You left the checkout: your plan did not change." in page.text
    assert "Your plan: Free (shared CRM)" in page.text
    assert await Subscription.count() == 0


async def test_renaming_a_plan_renames_its_stripe_product_for_the_portal(stripe_stack: StripeStack) -> None:
    await stripe_stack.subscribe("pro")
    await stripe_stack.settle()
    errors = await update_plan(await plan_id("pro"), PlanForm.from_data({**PRO.values(), "name": "Pro plus"}))
    assert errors == {}
    portal = await stripe_stack.client.get("/billing/manage")
    page = await stripe_stack.http.get(httpx.URL(portal.headers["location"]).path)
    assert "Pro plus: $29.00 per month" in page.text


async def test_paying_at_the_checkout_comes_back_to_where_the_plan_stopped_the_merchant(
    stripe_stack: StripeStack,
) -> None:
    review = "/funnels/7/review"
    back = httpx.URL(await stripe_stack.subscribe("pro", then=review, follow_return=False))
    assert back.path == "/billing/checkout/return"
    assert back.params["then"] == review
    assert back.params["session_id"].startswith("cs_test_")  # Stripe filled in its placeholder

    returned = await stripe_stack.client.get(back.path, params=back.params)

    assert returned.headers["location"] == f"{review}?billing=active"
    assert (await entitlements(SHOP)).plan_code == "pro"


async def test_leaving_the_checkout_keeps_the_way_back(stripe_stack: StripeStack) -> None:
    await post_form(stripe_stack.stack, "/billing/subscribe", {"plan": "pro", "then": "/funnels/7/review"})
    [session] = stripe_stack.objects("checkout.session")
    back = httpx.URL(session["cancel_url"])
    assert (back.path, back.params["outcome"], back.params["then"]) == (
        "/billing/",
        "checkout_left",
        "/funnels/7/review",
    )
    page = await stripe_stack.client.get(back.path, params=back.params)
    assert "You left the checkout" in page.text
    assert '<a href="/funnels/7/review">Go back without changing plan</a>' in page.text


async def test_an_outside_address_is_neither_given_to_stripe_nor_followed(stripe_stack: StripeStack) -> None:
    back = httpx.URL(await stripe_stack.subscribe("pro", then="https://evil.test/", follow_return=False))
    assert "then" not in back.params
    [session] = stripe_stack.objects("checkout.session")
    assert "evil" not in session["cancel_url"]
    returned = await stripe_stack.client.get(back.path, params={**back.params, "then": "//evil.test/"})
    assert returned.headers["location"] == "/billing/?outcome=active"


@pytest.mark.postgres
async def test_a_plan_change_made_at_once_goes_on_to_then(stripe_stack: StripeStack) -> None:
    await stripe_stack.subscribe("pro")
    await stripe_stack.settle()
    subscription_id = str((await the_subscription())["external_id"])
    changed = await post_form(
        stripe_stack.stack,
        "/billing/subscribe",
        {"plan": "growth", "subscription": subscription_id, "then": "/funnels/7/review"},
    )
    assert changed.headers["location"] == "/funnels/7/review?billing=changed"  # type: ignore[attr-defined]
    assert (await entitlements(SHOP)).plan_code == "growth"


async def test_inside_the_admin_the_checkout_returns_through_the_apps_admin_page(database_url: str) -> None:
    async with stripe_stack_with_plans(database_url, shopify_admin_origin=SHOPIFY_URL) as stack:
        started = await stack.client.post(
            "/billing/subscribe",
            headers=bearer(id_token(SHOP)),
            data={"plan": "pro", "then": "/funnels/7/review"},
        )
        assert started.status_code == 401, started.text  # out of the iframe, to Stripe
        assert started.headers["x-shopify-api-request-failure-reauthorize-url"].startswith(
            f"{stack.url}/checkout/"
        )
        [session] = stack.objects("checkout.session")
        store = SHOP.removesuffix(".myshopify.com")
        admin_app = f"{SHOPIFY_URL}/store/{store}/apps/funnelsync"
        assert session["success_url"] == (
            f"{admin_app}/billing/checkout/return?then=%2Ffunnels%2F7%2Freview&session_id={{CHECKOUT_SESSION_ID}}"
        )
        assert session["cancel_url"].startswith(f"{admin_app}/billing/?outcome=checkout_left&then=")

        # Paid: Stripe sends the window to the app's page in the admin, which opens the return
        # in its iframe with a fresh ID token (no cookie needed).
        listed = await stack.stack.shopify.post(f"/_sandbox/shops/{SHOP}/app-installation")
        assert listed.status_code == 200, listed.text
        checkout = httpx.URL(session["url"])
        paid = await stack.http.post(f"{checkout.path}/pay", data={"card_number": GOOD_CARD})
        back = httpx.URL(paid.headers["location"])
        admin = await stack.stack.shopify.get(back.path, params=back.params, follow_redirects=True)
        found = re.search(r'id="app-frame"[^>]* src="([^"]+)"', admin.text)
        assert found, admin.text
        frame = httpx.URL(html.unescape(found[1]))
        assert (frame.path, frame.params["then"]) == ("/billing/checkout/return", "/funnels/7/review")
        stack.client.cookies.clear()
        returned = await stack.client.get(frame.path, params=frame.params)
        # Inside the iframe the redirect keeps the admin's parameters (the next load is verified).
        assert returned.headers["location"].startswith("/funnels/7/review?billing=active&"), returned.headers
        assert "embedded=1" in returned.headers["location"]
