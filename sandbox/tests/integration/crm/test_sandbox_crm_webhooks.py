"""CRM webhooks: subscriptions, signed deliveries (the HMAC recomputed here from the raw
body), events for API and CRM-side changes, retries, and delivery faults."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sandbox.tests.integration.crm.sandbox_crm_sales_support import (
    ALL_TOPICS,
    FAST_RETRIES,
    RECEIVER_URL,
    Receiver,
    customer_body,
    deliveries,
    eventually,
    expected_signature,
    new_customer,
    order_body,
    product_body,
    settled,
    subscribe,
)
from sandbox.tests.integration.crm.sandbox_crm_support import (
    Harness,
    Merchant,
    bearer,
    errors_of,
    running_crm,
)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def crm(receiver: Receiver) -> AsyncIterator[Harness]:
    async with running_crm(
        webhook_transport=receiver.transport(), webhook_retry_schedule=FAST_RETRIES
    ) as harness:
        yield harness


@pytest.fixture
async def acme(crm: Harness) -> Merchant:
    return await crm.merchant("acme.myshopify.com")


# -- subscriptions ----------------------------------------------------------------------------


async def test_subscribe_answers_the_subscription_and_is_once_per_url(acme: Merchant) -> None:
    response = await acme.post("/api/v1/webhooks", {"url": RECEIVER_URL, "topics": ["order.created"]})
    assert response.status_code == 201, response.text
    webhook = response.json()
    assert webhook["id"].startswith("wh_")
    assert (webhook["url"], webhook["topics"]) == (RECEIVER_URL, ["order.created"])
    again = await acme.post("/api/v1/webhooks", {"url": RECEIVER_URL, "topics": ALL_TOPICS})
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    assert again.json()["existing_id"] == webhook["id"]
    assert (await acme.get("/api/v1/webhooks")).json() == {"data": [webhook], "next_cursor": None}
    assert (await acme.get(f"/api/v1/webhooks/{webhook['id']}")).json() == webhook
    assert (await acme.delete(f"/api/v1/webhooks/{webhook['id']}")).status_code == 204
    assert (await acme.get("/api/v1/webhooks")).json()["data"] == []


async def test_subscribe_refuses_unknown_topics_and_bad_urls(acme: Merchant) -> None:
    body = {"url": "ftp://example.com/hook", "topics": ["order.created", "orders/create"]}
    assert set(errors_of(await acme.post("/api/v1/webhooks", body))) == {"url", "topics[1]"}
    assert list(errors_of(await acme.post("/api/v1/webhooks", {"url": RECEIVER_URL, "topics": []}))) == [
        "topics"
    ]


async def test_webhooks_need_a_user_token(crm: Harness) -> None:
    app_token = await crm.app_token()
    body = {"url": RECEIVER_URL, "topics": ALL_TOPICS}
    response = await crm.http.post("/api/v1/webhooks", json=body, headers=bearer(app_token))
    assert response.status_code == 401


# -- delivery ---------------------------------------------------------------------------------


async def test_delivery_is_signed_with_the_tokens_client_secret_over_the_raw_body(
    crm: Harness, acme: Merchant, receiver: Receiver
) -> None:
    await subscribe(acme)
    customer = await new_customer(acme)
    await eventually(lambda: len(receiver.received) == 1)
    delivered = receiver.received[0]
    event = delivered.event
    assert event["id"].startswith("evt_")
    assert event["topic"] == "customer.created"
    assert event["account_id"] == acme.id
    assert event["occurred_at"].endswith("Z")
    assert event["data"] == customer
    assert set(event) == {"id", "topic", "occurred_at", "account_id", "data"}
    assert delivered.body == json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()  # compact
    headers = delivered.headers
    assert headers["content-type"] == "application/json"
    assert headers["x-crm-event-id"] == event["id"]
    assert headers["x-crm-topic"] == "customer.created"
    timestamp, sent, recomputed = expected_signature(headers["x-crm-signature"], delivered.body)
    assert sent == recomputed
    assert abs(time.time() - timestamp) < 60
    assert expected_signature(headers["x-crm-signature"], delivered.body, "wrong")[2] != sent


async def test_every_change_fires_its_topic_including_the_apps_own_api_writes(
    crm: Harness, acme: Merchant, receiver: Receiver
) -> None:
    await subscribe(acme)
    product = await acme.created("/api/v1/products", product_body())
    await acme.put(f"/api/v1/products/{product['id']}", product_body(price="25.00"))
    customer = await new_customer(acme)
    await acme.put(f"/api/v1/customers/{customer['id']}", customer_body(first_name="Augusta"))
    order = await acme.created("/api/v1/orders", order_body(customer["id"]))
    await acme.created(f"/api/v1/orders/{order['id']}/fulfillments", {"tracking_number": "1Z"})
    await acme.delete(f"/api/v1/products/{product['id']}")
    expected = [
        "product.created",
        "product.updated",
        "customer.created",
        "customer.updated",
        "order.created",
        "fulfillment.created",
        "order.updated",
        "product.deleted",
    ]
    await eventually(lambda: len(receiver.received) == len(expected))
    assert receiver.topics() == expected
    by_topic = {d.event["topic"]: d.event["data"] for d in receiver.received}
    assert by_topic["product.updated"]["price"] == "25.00"
    assert by_topic["order.updated"]["status"] == "fulfilled"
    assert by_topic["product.deleted"]["id"] == product["id"]
    assert len({d.event["id"] for d in receiver.received}) == len(expected)


async def test_crm_side_changes_fire_webhooks(crm: Harness, acme: Merchant, receiver: Receiver) -> None:
    await subscribe(acme)
    product = await acme.created("/api/v1/products", product_body())
    await crm.control("PUT", f"users/{acme.id}/products/{product['id']}", json={"price": "30.00"})
    placed = await crm.control(
        "POST",
        f"users/{acme.id}/orders",
        json={
            "customer": {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"},
            "items": [{"product_id": product["id"], "quantity": 2}],
            "operator_comment": "Funnel order",
        },
    )
    order_id = placed["order"]["id"]
    await crm.control(
        "PUT", f"users/{acme.id}/customers/{placed['customer']['id']}", json={"last_name": "H."}
    )
    await crm.control(
        "POST", f"users/{acme.id}/orders/{order_id}/fulfillments", json={"tracking_number": "T1"}
    )
    expected = [
        "product.created",
        "product.updated",
        "customer.created",
        "order.created",
        "customer.updated",
        "fulfillment.created",
        "order.updated",
    ]
    await eventually(lambda: len(receiver.received) == len(expected))
    assert receiver.topics() == expected
    created = receiver.received[3].event["data"]
    assert created["customer_id"] == placed["customer"]["id"]
    assert created["total"] == "60.00"
    assert created["operator_comment"] == "Funnel order"


async def test_only_subscribed_topics_of_the_subscribers_own_user_are_sent(
    crm: Harness, acme: Merchant, receiver: Receiver
) -> None:
    globex = await crm.merchant("globex.myshopify.com")
    await subscribe(acme, ["order.created"])
    await new_customer(acme)  # not subscribed
    await new_customer(globex, 2)  # another user's
    customer = await new_customer(acme, 3)
    await acme.created("/api/v1/orders", order_body(customer["id"]))
    await eventually(lambda: len(receiver.received) == 1)
    log = await settled(crm)
    assert receiver.topics() == ["order.created"]
    assert len(log["attempts"]) == 1


async def test_receiver_errors_are_retried_with_the_same_event_until_it_answers_2xx(
    crm: Harness, acme: Merchant, receiver: Receiver
) -> None:
    await subscribe(acme)
    receiver.statuses = [500, 503]
    await new_customer(acme)
    await eventually(lambda: len(receiver.received) == 1)
    log = await settled(crm)
    attempts = log["attempts"]
    assert [(a["attempt"], a["status_code"], a["success"], a["final"]) for a in attempts] == [
        (1, 500, False, False),
        (2, 503, False, False),
        (3, 200, True, True),
    ]
    assert {a["event_id"] for a in attempts} == {receiver.received[0].event["id"]}
    assert receiver.calls == 3


async def test_delivery_gives_up_after_the_last_retry(
    crm: Harness, acme: Merchant, receiver: Receiver
) -> None:
    await subscribe(acme)
    receiver.statuses = [500] * 4
    await new_customer(acme)
    await eventually(lambda: receiver.calls == 4)
    log = await settled(crm)
    assert [a["attempt"] for a in log["attempts"]] == [1, 2, 3, 4]
    assert log["attempts"][-1]["final"] is True
    assert not any(a["success"] for a in log["attempts"])
    assert receiver.received == []


async def test_duplicate_fault_delivers_the_same_event_twice(
    crm: Harness, acme: Merchant, receiver: Receiver
) -> None:
    await subscribe(acme)
    await crm.control("POST", "webhooks/faults", json={"kind": "duplicate", "count": 1})
    await new_customer(acme)
    await eventually(lambda: len(receiver.received) == 2)
    first, second = receiver.received
    assert first.body == second.body
    assert first.headers["x-crm-event-id"] == second.headers["x-crm-event-id"]
    log = await settled(crm)
    assert [a["duplicate"] for a in log["attempts"]] == [False, True]
    assert (await crm.control("GET", "webhooks/faults"))["data"] == []


async def test_out_of_order_fault_holds_events_and_sends_them_last_first(
    crm: Harness, acme: Merchant, receiver: Receiver
) -> None:
    await subscribe(acme)
    await crm.control("POST", "webhooks/faults", json={"kind": "out_of_order", "count": 3})
    customer = await new_customer(acme)
    await acme.put(f"/api/v1/customers/{customer['id']}", customer_body(first_name="Second"))
    log = await settled(crm)
    assert log["held"] == 2
    assert receiver.received == []
    assert (await crm.control("POST", "webhooks/release")) == {"released": 2}
    await eventually(lambda: len(receiver.received) == 2)
    assert receiver.topics() == ["customer.updated", "customer.created"]


async def test_out_of_order_group_goes_out_by_itself_once_complete(
    crm: Harness, acme: Merchant, receiver: Receiver
) -> None:
    await subscribe(acme)
    await crm.control("POST", "webhooks/faults", json={"kind": "out_of_order"})  # count 2
    customer = await new_customer(acme)
    await acme.delete(f"/api/v1/customers/{customer['id']}")
    await eventually(lambda: len(receiver.received) == 2)
    assert receiver.topics() == ["customer.deleted", "customer.created"]


async def test_receiver_down_fault_fails_attempts_without_reaching_it_then_retries(
    crm: Harness, acme: Merchant, receiver: Receiver
) -> None:
    await subscribe(acme)
    await crm.control(
        "POST", "webhooks/faults", json={"kind": "receiver_down", "count": 2, "account_id": acme.id}
    )
    await new_customer(acme)
    await eventually(lambda: len(receiver.received) == 1)
    log = await settled(crm)
    assert [(a["fault"], a["status_code"], a["success"]) for a in log["attempts"]] == [
        ("receiver_down", None, False),
        ("receiver_down", None, False),
        (None, 200, True),
    ]
    assert receiver.calls == 1


async def test_faults_of_another_account_leave_this_one_alone(
    crm: Harness, acme: Merchant, receiver: Receiver
) -> None:
    await subscribe(acme)
    await crm.control("POST", "webhooks/faults", json={"kind": "duplicate", "account_id": "usr_other"})
    await new_customer(acme)
    await eventually(lambda: len(receiver.received) == 1)
    await settled(crm)
    assert len(receiver.received) == 1
    assert (await crm.control("DELETE", "webhooks/faults")) == {"cleared": 1}


async def test_deliveries_are_filtered_and_reset_clears_everything(
    crm: Harness, acme: Merchant, receiver: Receiver
) -> None:
    await subscribe(acme)
    customer = await new_customer(acme)
    await acme.created("/api/v1/orders", order_body(customer["id"]))
    await eventually(lambda: len(receiver.received) == 2)
    only_orders = await deliveries(crm, topic="order.created")
    assert [a["topic"] for a in only_orders["attempts"]] == ["order.created"]
    event_id = receiver.received[0].event["id"]
    assert [a["event_id"] for a in (await deliveries(crm, event_id=event_id))["attempts"]] == [event_id]
    listed: dict[str, Any] = await crm.control("GET", "webhooks")
    assert listed["data"][0]["user_id"] == acme.id
    assert listed["data"][0]["client_id"] == "dev-crm-client"
    await crm.control("POST", "reset")
    assert (await deliveries(crm))["attempts"] == []
    assert (await crm.control("GET", "webhooks"))["data"] == []
    assert (await crm.control("GET", "customers"))["data"] == []
    assert (await crm.control("GET", "orders"))["data"] == []
