"""Customers both ways (Keep Orders Synchronized, seeds/003): each crosses once, echoes and repeats cost
no call, a refusal is explained and retried, a customer with a pending CRM order is kept."""

from __future__ import annotations

import json
import time
from typing import Any

from connectors.crm_webhooks import crm_signature
from jobqueue.tables import InboxEvent, Job
from onboarding.settings import DEVELOPMENT_CRM_SECRET
from tests.support.admin_area import signed_in_admin
from tests.support.app import asgi_client
from tests.support.funnel_wizard import post_form
from tests.support.live_funnel import (
    ADDRESS,
    crm_customers,
    crm_writes,
    funnel_of,
    settle,
    shopify_graphql,
    shopify_writes,
    user_id,
)
from tests.support.shops import SHOP
from tests.support.stack import APP_URL, Stack


async def shopify_customer(stack: Stack, fields: dict[str, Any]) -> dict[str, Any]:
    created = await stack.shopify.post(f"/_sandbox/shops/{SHOP}/customers", json=fields)
    assert created.status_code == 201, created.text
    await settle(stack)
    customer: dict[str, Any] = created.json()
    return customer


async def test_a_customer_edited_in_the_crm_reaches_shopify_without_bouncing(stack: Stack) -> None:
    created = await shopify_customer(
        stack,
        {
            "firstName": "Lin",
            "lastName": "Wu",
            "email": "lin@example.com",
            "addresses": [ADDRESS],
            "tags": ["vip"],
        },
    )
    (customer,) = await crm_customers(stack)
    assert customer["address"]["address"] == "1 Elm St||Unit 9"
    assert customer["tags"] == ["vip"]
    crm_before = await crm_writes(stack)

    edited = await stack.crm.put(
        f"/_sandbox/users/{await user_id(stack)}/customers/{customer['id']}",
        json={"last_name": "Wu-Chen", "address": {**customer["address"], "address": "5 Pine Rd||Floor 2"}},
    )
    assert edited.status_code == 200, edited.text
    await settle(stack)

    query = "query($id: ID!) { customer(id: $id) { lastName defaultAddress { address1 address2 } } }"
    data = await shopify_graphql(stack, query, {"id": created["admin_graphql_api_id"]})
    assert data["customer"]["lastName"] == "Wu-Chen"
    assert data["customer"]["defaultAddress"] == {"address1": "5 Pine Rd", "address2": "Floor 2"}
    assert (await shopify_writes(stack)).get("customerUpdate") == 1
    assert (await crm_writes(stack)).get("customers.update", 0) == crm_before.get("customers.update", 0)


async def points_spent(stack: Stack) -> float:
    return float((await stack.shopify.get(f"/_sandbox/shops/{SHOP}")).json()["pointsSpent"])


async def test_a_customer_event_holding_what_both_sides_hold_costs_no_shopify_query(stack: Stack) -> None:
    created = await shopify_customer(
        stack, {"firstName": "Noa", "lastName": "Levi", "email": "noa@example.com", "addresses": [ADDRESS]}
    )
    (event,) = (
        await InboxEvent.select(InboxEvent.payload)
        .where(InboxEvent.topic == "customers/create")
        .output(load_json=True)
    )
    spent, crm_before = await points_spent(stack), await crm_writes(stack)

    # Shopify delivers the same customer again (a repeat, or our own write coming back).
    again = await stack.shopify.post(
        "/_sandbox/webhooks/trigger",
        json={"shop": SHOP, "topic": "customers/update", "payload": event["payload"]},
    )
    assert again.status_code == 202, again.text
    await settle(stack)
    assert await points_spent(stack) == spent
    assert await crm_writes(stack) == crm_before

    # An event with something new is read from Shopify as before, and reaches the CRM.
    edited = await shopify_graphql(
        stack,
        "mutation($input: CustomerInput!) { customerUpdate(input: $input) { userErrors { message } } }",
        {"input": {"id": created["admin_graphql_api_id"], "lastName": "Levi-Cohen"}},
    )
    assert edited["customerUpdate"]["userErrors"] == []
    await settle(stack)
    assert await points_spent(stack) > spent
    assert [c["last_name"] for c in await crm_customers(stack)] == ["Levi-Cohen"]


async def test_a_crm_customer_event_holding_what_both_sides_hold_needs_no_crm_read(stack: Stack) -> None:
    await shopify_customer(stack, {"firstName": "Ari", "lastName": "Stone", "email": "ari@example.com"})
    # The CRM's customer.created for the customer we just wrote there: the echo of our write.
    (echo,) = (
        await InboxEvent.select(InboxEvent.payload)
        .where((InboxEvent.source == "crm") & (InboxEvent.topic == "customer.created"))
        .output(load_json=True)
    )

    # While the CRM's customer reads fail, the same event comes again.
    fault = await stack.crm.post(
        "/_sandbox/faults", json={"kind": "http_500", "count": 5, "path_prefix": "/api/v1/customers"}
    )
    assert fault.status_code == 201, fault.text
    body = json.dumps({**echo["payload"], "id": "evt_again", "topic": "customer.updated"}).encode()
    delivered = await stack.client.post(
        "/webhooks/crm",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-CRM-Signature": crm_signature(body, DEVELOPMENT_CRM_SECRET, int(time.time())),
        },
    )
    assert delivered.json() == {"status": "stored"}
    await settle(stack)

    # Done without asking the CRM: no job failed, the fault is still waiting for a request.
    assert await Job.count().where(Job.last_error != "") == 0
    (waiting,) = (await stack.crm.get("/_sandbox/faults")).json()["data"]
    assert waiting["remaining"] == 5


async def test_a_crm_refusal_is_explained_and_retried_after_the_fix(stack: Stack) -> None:
    funnel_id = funnel_of(stack)
    # A customer already in the CRM (added there while orders were not synced).
    await post_form(stack, f"/funnels/{funnel_id}/settings/", {"keep_products_synced": "on"})
    crm_user = await user_id(stack)
    duplicate = await stack.crm.post(
        f"/_sandbox/users/{crm_user}/customers", json={"first_name": "Kim", "email": "kim@example.com"}
    )
    assert duplicate.status_code == 201, duplicate.text
    await settle(stack)
    await post_form(
        stack, f"/funnels/{funnel_id}/settings/", {"keep_products_synced": "on", "keep_orders_synced": "on"}
    )

    await shopify_customer(stack, {"firstName": "Kim", "lastName": "Park", "email": "kim@example.com"})
    page = await stack.client.get(f"/funnels/{funnel_id}/sync/")
    assert "Another customer in the CRM already has this email" in page.text

    # The merchant removes the duplicate in the CRM and presses Retry.
    removed = await stack.crm.delete(f"/_sandbox/users/{crm_user}/customers/{duplicate.json()['id']}")
    assert removed.status_code in (200, 204), removed.text
    retry_path = page.text.split('action="/funnels/')[1].split('"')[0]
    retried = await post_form(stack, f"/funnels/{retry_path}")
    assert retried.status_code == 303  # type: ignore[attr-defined]
    await settle(stack)

    page = await stack.client.get(f"/funnels/{funnel_id}/sync/")
    assert "Nothing failed in the last 24 hours." in page.text
    assert [c["last_name"] for c in await crm_customers(stack)] == ["Park"]


async def test_a_customer_with_a_pending_crm_order_is_not_deleted_and_health_says_why(stack: Stack) -> None:
    created = await shopify_customer(
        stack, {"firstName": "Eve", "lastName": "Ng", "email": "eve@example.com"}
    )
    (customer,) = await crm_customers(stack)
    # An order outside any funnel, pending in the CRM.
    pending = await stack.crm.post(
        f"/_sandbox/users/{await user_id(stack)}/orders",
        json={
            "customer_id": customer["id"],
            "items": [{"product_id": None, "name": "Phone order", "quantity": 1, "price": "9.00"}],
        },
    )
    assert pending.status_code == 201, pending.text
    await settle(stack)

    deleted = await stack.shopify.delete(f"/_sandbox/shops/{SHOP}/customers/{created['id']}")
    assert deleted.status_code == 200, deleted.text
    await settle(stack)

    assert [c["id"] for c in await crm_customers(stack)] == [customer["id"]]
    page = await stack.client.get(f"/funnels/{funnel_of(stack)}/sync/")
    assert "have an order that is still pending" in page.text

    # Operators see the same across shops.
    async with asgi_client(stack.app, APP_URL) as operator:
        await signed_in_admin(operator)
        overview = await operator.get("/admin/sync")
    assert SHOP in overview.text
    assert "have an order that is still pending" in overview.text
