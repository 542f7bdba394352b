"""Checkout, the hosted pages, subscriptions, the portal, the clock and signed webhooks."""

from __future__ import annotations

import httpx
import pytest
import stripe

from sandbox.tests.integration.stripe.stripe_support import Harness


async def test_paying_checkout_creates_active_subscription_paid_invoice_and_signed_webhooks(
    harness: Harness,
) -> None:
    client = harness.client()
    product, price = await harness.plan(amount=1900)
    session = await harness.sdk(
        client.v1.checkout.sessions.create,
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "http://app.test/done?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://app.test/billing",
            "client_reference_id": "shop-42",
            "metadata": {"shop": "acme"},
        },
    )
    assert session.id.startswith("cs_test_")
    assert session.status == "open"
    assert session.url == f"{harness.url}/checkout/{session.id}"
    page = await harness.http.get(f"/checkout/{session.id}")
    assert page.status_code == 200
    assert product.name in page.text
    assert "$19.00" in page.text
    assert "Pay and subscribe" in page.text
    assert 'href="http://app.test/billing"' in page.text
    assert "<script" not in page.text

    paid = await harness.http.post(f"/checkout/{session.id}/pay", data={"card_number": "4242 4242 4242 4242"})
    assert paid.status_code == 303
    assert paid.headers["location"] == f"http://app.test/done?session={session.id}"

    done = await harness.sdk(client.v1.checkout.sessions.retrieve, session.id)
    assert (done.status, done.payment_status) == ("complete", "paid")
    assert done.subscription is not None
    assert done.customer is not None
    sub = await harness.sdk(client.v1.subscriptions.retrieve, str(done.subscription))
    assert sub.status == "active"
    assert sub["items"].data[0].price.id == price.id
    invoice = await harness.sdk(client.v1.invoices.retrieve, str(sub.latest_invoice))
    assert (invoice.status, invoice.amount_paid) == ("paid", 1900)

    await harness.wait_for_events(
        "customer.subscription.created", "invoice.paid", "checkout.session.completed"
    )
    assert harness.receiver.rejected == []
    completed = next(e for e in harness.receiver.events if e.type == "checkout.session.completed")
    assert completed.id.startswith("evt_")
    assert completed.api_version == "2026-10-28.endive"
    obj = completed.data.object
    assert obj["client_reference_id"] == "shop-42"
    assert obj["subscription"] == sub.id
    assert obj["metadata"]["shop"] == "acme"
    log = await harness.control("GET", "/deliveries")
    assert all(d["delivered"] and d["status_code"] == 200 for d in log["data"])


async def test_trial_checkout_gives_trialing_subscription_and_trial_will_end(harness: Harness) -> None:
    _, price = await harness.plan()
    session = await harness.subscribe(price.id, trial_days=14)
    assert session.payment_status == "no_payment_required"
    sub = await harness.sdk(harness.client().v1.subscriptions.retrieve, str(session.subscription))
    assert sub.status == "trialing"
    assert sub.trial_end is not None
    assert sub.trial_start is not None
    assert sub.trial_end - sub.trial_start == 14 * 86400
    await harness.control("POST", f"/subscriptions/{sub.id}/trial_will_end")
    await harness.wait_for_events("customer.subscription.trial_will_end")
    assert "invoice.paid" not in harness.receiver.types()
    # The trial ends when the clock passes it: the first real invoice is paid.
    result = await harness.control("POST", "/clock/advance", {"days": 15})
    assert result["renewed"] == 1
    after = await harness.sdk(harness.client().v1.subscriptions.retrieve, sub.id)
    assert after.status == "active"
    await harness.wait_for_events("invoice.paid")


async def test_declined_card_shows_error_and_creates_nothing(harness: Harness) -> None:
    _, price = await harness.plan()
    client = harness.client()
    session = await harness.sdk(
        client.v1.checkout.sessions.create,
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id}],
            "success_url": "http://app.test/ok",
        },
    )
    declined = await harness.http.post(
        f"/checkout/{session.id}/pay", data={"card_number": "4000 0000 0000 0002"}
    )
    assert declined.status_code == 402
    assert "Your card was declined." in declined.text
    assert 'role="alert"' in declined.text
    assert (await harness.sdk(client.v1.checkout.sessions.retrieve, session.id)).status == "open"
    assert (await harness.sdk(client.v1.subscriptions.list)).data == []
    assert harness.receiver.events == []


async def test_portal_cancels_at_period_end_and_switches_plan(harness: Harness) -> None:
    client = harness.client()
    _, basic = await harness.plan(amount=1900)
    _, pro = await harness.plan(amount=4900)
    session = await harness.subscribe(basic.id)
    portal = await harness.sdk(
        client.v1.billing_portal.sessions.create,
        params={"customer": str(session.customer), "return_url": "http://app.test/billing"},
    )
    assert portal.id.startswith("bps_")
    path = httpx.URL(portal.url).path
    page = await harness.http.get(path)
    assert page.status_code == 200
    assert "Cancel subscription" in page.text
    assert "Switch plan" in page.text
    assert pro.id in page.text
    assert 'href="http://app.test/billing"' in page.text
    sub_id = str(session.subscription)

    switched = await harness.http.post(f"{path}/subscriptions/{sub_id}/switch", data={"price": pro.id})
    assert switched.status_code == 303
    sub = await harness.sdk(client.v1.subscriptions.retrieve, sub_id)
    assert sub["items"].data[0].price.id == pro.id

    canceled = await harness.http.post(f"{path}/subscriptions/{sub_id}/cancel")
    assert canceled.status_code == 303
    sub = await harness.sdk(client.v1.subscriptions.retrieve, sub_id)
    assert sub.cancel_at_period_end is True
    assert sub.status == "active"
    await harness.wait_for(
        lambda: harness.receiver.types().count("customer.subscription.updated") >= 2, "two updates"
    )
    updates = [e for e in harness.receiver.events if e.type == "customer.subscription.updated"]
    assert updates[-1].data.object["cancel_at_period_end"] is True
    assert updates[-1].data["previous_attributes"]["cancel_at_period_end"] is False

    await harness.control("POST", "/clock/advance", {"days": 32})
    ended = await harness.sdk(client.v1.subscriptions.retrieve, sub_id)
    assert ended.status == "canceled"
    await harness.wait_for_events("customer.subscription.deleted")


async def test_api_switch_plan_and_cancel_subscription(harness: Harness) -> None:
    client = harness.client()
    _, basic = await harness.plan(amount=1900)
    _, pro = await harness.plan(amount=4900)
    session = await harness.subscribe(basic.id)
    sub_id = str(session.subscription)
    sub = await harness.sdk(client.v1.subscriptions.retrieve, sub_id)
    item = sub["items"].data[0]
    updated = await harness.sdk(
        client.v1.subscriptions.update,
        sub_id,
        params={"items": [{"id": item.id, "price": pro.id}], "proration_behavior": "always_invoice"},
    )
    assert [i.price.id for i in updated["items"].data] == [pro.id]
    invoice = await harness.sdk(client.v1.invoices.retrieve, str(updated.latest_invoice))
    assert (invoice.billing_reason, invoice.amount_paid) == ("subscription_update", 4900)
    listed = await harness.sdk(client.v1.subscriptions.list, params={"customer": str(session.customer)})
    assert [s.id for s in listed.data] == [sub_id]
    canceled = await harness.sdk(client.v1.subscriptions.cancel, sub_id)
    assert canceled.status == "canceled"
    assert (
        await harness.sdk(client.v1.subscriptions.list, params={"customer": str(session.customer)})
    ).data == []
    every = await harness.sdk(client.v1.subscriptions.list, params={"status": "canceled"})
    assert [s.id for s in every.data] == [sub_id]
    await harness.wait_for_events("customer.subscription.deleted")
    update = next(e for e in harness.receiver.events if e.type == "customer.subscription.updated")
    assert update.request is not None
    assert str(update.request["id"]).startswith("req_")
    assert update.request["idempotency_key"]  # the SDK sends one on every POST


async def test_clock_advance_renews_then_failed_payment_makes_past_due(harness: Harness) -> None:
    client = harness.client()
    _, price = await harness.plan(amount=1900)
    session = await harness.subscribe(price.id)
    sub_id = str(session.subscription)
    before = await harness.sdk(client.v1.subscriptions.retrieve, sub_id)
    first_end = before["items"].data[0].current_period_end

    renewed = await harness.control("POST", "/clock/advance", {"days": 31})
    assert renewed["renewed"] == 1
    sub = await harness.sdk(client.v1.subscriptions.retrieve, sub_id)
    assert sub.status == "active"
    assert sub["items"].data[0].current_period_start == first_end
    invoices = await harness.sdk(client.v1.invoices.list, params={"subscription": sub_id})
    assert [(i.billing_reason, i.status) for i in invoices.data] == [
        ("subscription_cycle", "paid"),
        ("subscription_create", "paid"),
    ]
    await harness.wait_for(
        lambda: harness.receiver.types().count("invoice.paid") == 2, "renewal invoice.paid"
    )

    failed = await harness.control("POST", "/clock/advance", {"days": 31, "fail_payments": 1})
    assert failed["failed"] == 1
    sub = await harness.sdk(client.v1.subscriptions.retrieve, sub_id)
    assert sub.status == "past_due"
    await harness.wait_for_events("invoice.payment_failed")
    failure = next(e for e in harness.receiver.events if e.type == "invoice.payment_failed")
    assert failure.data.object["status"] == "open"
    assert failure.data.object["parent"]["subscription_details"]["subscription"] == sub_id
    updates = [e for e in harness.receiver.events if e.type == "customer.subscription.updated"]
    assert updates[-1].data.object["status"] == "past_due"


async def test_webhooks_are_retried_on_failure_with_the_same_event(harness: Harness) -> None:
    harness.receiver.fail_first = 2
    _, price = await harness.plan()
    await harness.subscribe(price.id)
    await harness.wait_for_events(
        "customer.subscription.created", "invoice.paid", "checkout.session.completed"
    )
    log = (await harness.control("GET", "/deliveries"))["data"]
    failed = [d for d in log if not d["delivered"]]
    assert len(failed) == 2
    assert all(d["status_code"] == 500 for d in failed)
    for attempt in failed:
        retried = [d for d in log if d["event_id"] == attempt["event_id"] and d["delivered"]]
        assert retried
        assert retried[0]["attempt"] > 1
    assert len({e.id for e in harness.receiver.events}) == 3


async def test_webhook_faults_duplicate_and_out_of_order(harness: Harness) -> None:
    _, price = await harness.plan()
    await harness.control("POST", "/faults", {"kind": "duplicate"})
    await harness.subscribe(price.id)
    await harness.wait_for(lambda: len(harness.receiver.events) == 6, "six deliveries")
    ids = [e.id for e in harness.receiver.events]
    assert len(set(ids)) == 3
    assert ids[0] == ids[1]

    harness.receiver.events.clear()
    await harness.control("POST", "/faults", {"kind": "out_of_order"})
    await harness.subscribe(price.id)
    await harness.wait_for(lambda: len(harness.receiver.events) == 3, "three deliveries")
    assert harness.receiver.types() == [
        "checkout.session.completed",
        "invoice.paid",
        "customer.subscription.created",
    ]


async def test_bad_signature_secret_is_rejected_by_construct_event(harness: Harness) -> None:
    harness.receiver.secret = "whsec_someone_else"
    _, price = await harness.plan()
    await harness.subscribe(price.id)
    await harness.wait_for(lambda: len(harness.receiver.rejected) >= 3, "rejections")
    assert harness.receiver.events == []


async def test_checkout_requires_recurring_active_price(harness: Harness) -> None:
    client = harness.client()
    product = await harness.sdk(client.v1.products.create, params={"name": "One-off"})
    one_off = await harness.sdk(
        client.v1.prices.create, params={"product": product.id, "unit_amount": 500, "currency": "usd"}
    )
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await harness.sdk(
            client.v1.checkout.sessions.create,
            params={
                "mode": "subscription",
                "line_items": [{"price": one_off.id}],
                "success_url": "http://a.test",
            },
        )
    assert caught.value.param == "line_items[0][price]"


async def test_checkout_ui_mode_is_hosted_page_as_the_pinned_api_version_names_it(harness: Harness) -> None:
    # The SDK pinned to 2026-10-28.endive types ui_mode as elements | embedded_page | form |
    # hosted_page; the sandbox's hosted page is `hosted_page`, the default.
    client = harness.client()
    _, price = await harness.plan(amount=900)
    base = {"mode": "subscription", "line_items": [{"price": price.id}], "success_url": "http://a.test"}
    by_default = await harness.sdk(client.v1.checkout.sessions.create, params=base)
    named = await harness.sdk(client.v1.checkout.sessions.create, params={**base, "ui_mode": "hosted_page"})
    assert (by_default.ui_mode, named.ui_mode) == ("hosted_page", "hosted_page")
    assert named.url == f"{harness.url}/checkout/{named.id}"
    retrieved = await harness.sdk(client.v1.checkout.sessions.retrieve, named.id)
    assert retrieved.ui_mode == "hosted_page"

    with pytest.raises(stripe.InvalidRequestError) as old_name:
        await harness.sdk(client.v1.checkout.sessions.create, params={**base, "ui_mode": "hosted"})
    assert old_name.value.param == "ui_mode"
    assert "hosted_page" in str(old_name.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as not_emulated:
        await harness.sdk(client.v1.checkout.sessions.create, params={**base, "ui_mode": "embedded_page"})
    assert not_emulated.value.param == "ui_mode"
