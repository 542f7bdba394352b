"""Keep Orders Synchronized: customers, orders and fulfillments cross once each way (seeds/003)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from billing.plans import FREE_PLAN
from billing.tables import Plan
from connectors.crm_webhooks import crm_signature
from jobqueue.tables import InboxEvent, Job
from lib.clock import utcnow
from onboarding.settings import DEVELOPMENT_CRM_SECRET
from sync.shopify_documents import CUSTOMER_UPDATE
from tests.conftest import asgi_client
from tests.integration.billing.test_admin_plans import signed_in_admin
from tests.integration.funnels.test_wizard_first_steps import SHOP, post_form
from tests.integration.sync.sync_support import (
    T_SHIRT_GID,
    crm_product,
    crm_writes,
    live_funnel,
    settle,
    shopify_graphql,
    user_id,
)
from tests.stack import APP_URL, Stack, running_stack

ADDRESS = {
    "firstName": "Ann",
    "lastName": "Lee",
    "address1": "1 Elm St",
    "address2": "Unit 9",
    "city": "Austin",
    "provinceCode": "TX",
    "zip": "78701",
    "countryCode": "US",
    "phone": "+15125550100",
}


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        running.funnel_id = await live_funnel(running)  # type: ignore[attr-defined]
        yield running


def funnel_of(stack: Stack) -> int:
    funnel_id: int = stack.funnel_id  # type: ignore[attr-defined]
    return funnel_id


async def shopify_writes(stack: Stack) -> dict[str, int]:
    counts: dict[str, int] = (await stack.shopify.get(f"/_sandbox/shops/{SHOP}/writes")).json()["writes"]
    return counts


async def crm_orders(stack: Stack) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = (await stack.crm.get("/_sandbox/orders")).json()["data"]
    return orders


async def crm_customers(stack: Stack) -> list[dict[str, Any]]:
    customers: list[dict[str, Any]] = (await stack.crm.get("/_sandbox/customers")).json()["data"]
    return customers


async def checkout(stack: Stack, **overrides: Any) -> dict[str, Any]:
    body = {
        "email": "ann@example.com",
        "firstName": "Ann",
        "lastName": "Lee",
        "lineItems": [
            {"variantId": T_SHIRT_GID, "quantity": 1},
            {"title": "Gift wrapping", "price": "3.00", "quantity": 1},
        ],
        "shippingAddress": ADDRESS,
        "billingAddress": {**ADDRESS, "address1": "PO Box 1", "address2": None, "city": "Dallas"},
        "note": "Leave at the back door",
        **overrides,
    }
    placed = await stack.shopify.post(f"/_sandbox/shops/{SHOP}/orders", json=body)
    assert placed.status_code == 201, placed.text
    await settle(stack)
    order: dict[str, Any] = placed.json()
    return order


async def crm_funnel_order(stack: Stack, status: str = "paid") -> dict[str, Any]:
    campaign = (await stack.crm.get("/_sandbox/campaigns")).json()["data"][0]
    placed = await stack.crm.post(
        f"/_sandbox/users/{await user_id(stack)}/orders",
        json={
            "campaign_id": campaign["id"],
            "customer": {
                "first_name": "Bo",
                "last_name": "Chen",
                "email": "bo@example.com",
                "phone": "+16175550100",
                "address": {
                    "first_name": "Bo",
                    "last_name": "Chen",
                    "address": "2 Oak Ave||Apt 3",
                    "city": "Boston",
                    "postal_code": "02101",
                    "country_code": "US",
                },
            },
            "items": [
                {"product_id": (await crm_product(stack))["id"], "quantity": 1},
                {"product_id": None, "name": "Engraving", "quantity": 1, "price": "5.00"},
            ],
            "operator_comment": "Call before delivery",
            "status": status,
        },
    )
    assert placed.status_code == 201, placed.text
    await settle(stack)
    order: dict[str, Any] = placed.json()["order"]
    return order


SHOPIFY_ORDERS = """
{ orders(first: 10) { nodes {
    id note sourceName displayFulfillmentStatus
    customer { email }
    shippingAddress { address1 address2 city }
    lineItems(first: 10) { nodes { title variant { id } } }
    fulfillments(first: 5) { trackingInfo { number company } }
} } }
"""


async def test_a_shopify_checkout_reaches_the_crm_once_with_its_customer(stack: Stack) -> None:
    await checkout(stack)

    (order,) = await crm_orders(stack)
    assert order["operator_comment"] == "Leave at the back door"
    assert order["shipping_address"]["address"] == "1 Elm St||Unit 9"
    assert order["shipping_address"]["city"] == "Austin"  # delivery, not billing's Dallas
    catalog_line, custom_line = order["items"]
    assert catalog_line["product_id"] == (await crm_product(stack))["id"]
    assert (custom_line["product_id"], custom_line["name"]) == (None, "Gift wrapping")
    (customer,) = await crm_customers(stack)
    assert (customer["email"], customer["address"]["address"]) == ("ann@example.com", "1 Elm St||Unit 9")
    products = (await stack.crm.get("/_sandbox/products")).json()["data"]
    assert not any(product["name"] == "Gift wrapping" for product in products)  # not a catalog product
    writes = await crm_writes(stack)
    assert (writes.get("orders.create"), writes.get("customers.create")) == (1, 1)
    assert writes.get("orders.update", 0) == 0  # orders/paid and orders/updated changed nothing

    page = await stack.client.get(f"/funnels/{funnel_of(stack)}/sync/")
    assert "Nothing failed in the last 24 hours." in page.text


async def test_a_funnel_order_placed_in_the_crm_becomes_one_shopify_order(stack: Stack) -> None:
    await crm_funnel_order(stack)

    assert (await shopify_writes(stack)).get("orderCreate") == 1
    (order,) = (await shopify_graphql(stack, SHOPIFY_ORDERS))["orders"]["nodes"]
    assert order["note"] == "Call before delivery"
    assert order["customer"]["email"] == "bo@example.com"  # created in Shopify for the order
    assert (order["shippingAddress"]["address1"], order["shippingAddress"]["address2"]) == (
        "2 Oak Ave",
        "Apt 3",
    )
    lines = {line["title"]: line["variant"] for line in order["lineItems"]["nodes"]}
    assert lines["Engraving"] is None  # kept on the order, not in the catalog
    assert {"id": T_SHIRT_GID} in lines.values()
    # Shopify's orders/create for it does not come back to the CRM as a second order.
    assert len(await crm_orders(stack)) == 1


async def test_fulfilled_by_crm_writes_the_crm_tracking_number_to_shopify(stack: Stack) -> None:
    await post_form(
        stack,
        f"/funnels/{funnel_of(stack)}/settings/",
        {"fulfilled_by_crm": "on", "keep_products_synced": "on", "keep_orders_synced": "on"},
    )
    order = await crm_funnel_order(stack)
    shipped = await stack.crm.post(
        f"/_sandbox/users/{await user_id(stack)}/orders/{order['id']}/fulfillments",
        json={"tracking_number": "1Z999AA1", "carrier": "UPS"},
    )
    assert shipped.status_code == 201, shipped.text
    await settle(stack)

    (shopify_order,) = (await shopify_graphql(stack, SHOPIFY_ORDERS))["orders"]["nodes"]
    assert shopify_order["displayFulfillmentStatus"] == "FULFILLED"
    assert shopify_order["fulfillments"][0]["trackingInfo"][0] == {"number": "1Z999AA1", "company": "UPS"}
    assert (await crm_writes(stack)).get("fulfillments.create", 0) == 0  # Shopify's copy stays there


async def test_without_fulfilled_by_crm_shopify_fulfillments_reach_the_crm(stack: Stack) -> None:
    placed = await checkout(stack)
    shipped = await stack.shopify.post(
        f"/_sandbox/shops/{SHOP}/orders/{placed['id']}/fulfillments",
        json={"trackingNumber": "9400111", "trackingCompany": "USPS"},
    )
    assert shipped.status_code == 201, shipped.text
    await settle(stack)

    (order,) = await crm_orders(stack)
    assert order["status"] == "fulfilled"
    assert [(f["tracking_number"], f["carrier"]) for f in order["fulfillments"]] == [("9400111", "USPS")]
    assert (await crm_writes(stack)).get("fulfillments.create") == 1


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
        CUSTOMER_UPDATE,
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


async def test_orders_over_the_plan_limit_wait_and_sync_after_an_upgrade(stack: Stack) -> None:
    await Plan.update({Plan.synced_orders_limit: 1}).where(Plan.code == FREE_PLAN)
    await checkout(stack)
    await checkout(stack, email="second@example.com", firstName="Sam")

    assert len(await crm_orders(stack)) == 1  # the second waits, nothing is dropped
    page = await stack.client.get(f"/funnels/{funnel_of(stack)}/sync/")
    assert "synced orders for this month are used up" in page.text

    await Plan.update({Plan.synced_orders_limit: 100}).where(Plan.code == FREE_PLAN)  # the upgrade
    await Job.update({Job.run_at: utcnow()}).where(Job.status == "queued")  # its next try comes due
    await settle(stack)

    assert len(await crm_orders(stack)) == 2
    page = await stack.client.get(f"/funnels/{funnel_of(stack)}/sync/")
    assert "used up" not in page.text
