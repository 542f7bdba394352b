"""Orders both ways (Keep Orders Synchronized, seeds/003): a Shopify checkout becomes one CRM order with
its customer, a CRM funnel order one Shopify order; past the plan's monthly limit they wait."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from billing.plans import FREE_PLAN
from billing.tables import Plan
from connectors.errors import Rejected
from connectors.shopify import GraphQLResult
from jobqueue.inbox import InboxEventData
from jobqueue.tables import Job
from lib.clock import utcnow
from sync.activity import sync_health as health_of
from sync.context import SyncContext
from sync.flows import orders as order_flows
from sync.gate import FunnelSync
from tests.support.documented_payloads import (
    as_shopify_sends_order,
    order_without_protected_customer_data,
    without_protected_customer_data,
)
from tests.support.live_funnel import (
    ADDRESS,
    SHOPIFY_ORDERS,
    T_SHIRT_GID,
    T_SHIRT_VARIANT,
    checkout,
    crm_customers,
    crm_funnel_order,
    crm_orders,
    crm_product,
    crm_writes,
    funnel_of,
    hold_shopify_webhooks,
    settle,
    shopify_graphql,
    shopify_writes,
    user_id,
)
from tests.support.shops import SHOP, post_webhook
from tests.support.stack import Stack


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


# -- Orders as Shopify sends them now (tests/support/documented_payloads.py): a customer without tags
# or consent, a cancellation in `cancelled_at`, and without protected customer data access no
# names, email or address.


async def shopify_order_payload(stack: Stack, order_id: object) -> dict[str, Any]:
    """The order's orders/* body as the Shopify sandbox makes it."""
    shown = await stack.shopify.get(f"/_sandbox/shops/{SHOP}/orders/{order_id}")
    assert shown.status_code == 200, shown.text
    payload: dict[str, Any] = shown.json()
    return payload


async def deliver(stack: Stack, topic: str, payload: dict[str, Any]) -> None:
    delivered = await post_webhook(stack.client, topic, payload, shop_domain=SHOP)
    assert delivered.status_code == 200, delivered.text
    await settle(stack)


async def test_an_order_of_a_known_customer_keeps_their_consent_and_tags_in_the_crm(stack: Stack) -> None:
    known = await stack.shopify.post(
        f"/_sandbox/shops/{SHOP}/customers",
        json={
            "firstName": "Ann",
            "lastName": "Lee",
            "email": "ann@example.com",
            "addresses": [ADDRESS],
            "tags": ["vip"],
            "emailMarketingConsent": {"marketingState": "SUBSCRIBED"},
        },
    )
    assert known.status_code == 201, known.text
    placed = await checkout(stack)  # ann@example.com: the known customer's order

    await deliver(
        stack, "orders/updated", as_shopify_sends_order(await shopify_order_payload(stack, placed["id"]))
    )

    (customer,) = await crm_customers(stack)
    assert (customer["tags"], customer["accepts_marketing"]) == (["vip"], True)
    assert len(await crm_orders(stack)) == 1


async def test_an_order_cancelled_in_shopify_is_cancelled_in_the_crm(stack: Stack) -> None:
    placed = await checkout(stack)  # paid: Shopify keeps that when it cancels

    cancelled = await stack.shopify.post(f"/_sandbox/shops/{SHOP}/orders/{placed['id']}/cancel", json={})
    assert cancelled.status_code == 200, cancelled.text
    await settle(stack)

    (order,) = await crm_orders(stack)
    assert order["status"] == "cancelled"


async def test_an_order_sent_without_protected_customer_data_is_read_over_graphql(stack: Stack) -> None:
    await hold_shopify_webhooks(stack)  # the app hears of the order only from the test
    placed = await checkout(stack)
    assert await crm_orders(stack) == []

    redacted = without_protected_customer_data(await shopify_order_payload(stack, placed["id"]))
    await deliver(stack, "orders/create", redacted)

    (order,) = await crm_orders(stack)
    assert order["shipping_address"]["address"] == "1 Elm St||Unit 9"
    assert (order["shipping_address"]["first_name"], order["shipping_address"]["postal_code"]) == (
        "Ann",
        "78701",
    )
    (customer,) = await crm_customers(stack)
    assert (customer["email"], customer["first_name"]) == ("ann@example.com", "Ann")


async def test_an_order_shopify_gives_no_customer_data_for_is_held_with_what_to_do(stack: Stack) -> None:
    # An order the shop holds with nothing to deliver to (the sandbox wants an email or phone).
    await hold_shopify_webhooks(stack)
    placed = await checkout(
        stack, email=None, phone="+15555550123", shippingAddress=None, billingAddress=None
    )
    payload = order_without_protected_customer_data(int(T_SHIRT_VARIANT))
    payload |= {"id": placed["id"], "admin_graphql_api_id": placed["admin_graphql_api_id"]}

    await deliver(stack, "orders/create", payload)

    assert await crm_orders(stack) == []
    assert await crm_customers(stack) == []
    page = await sync_health(stack)
    assert "Shopify did not give FunnelSync this order&#39;s delivery address" in page
    assert "protected customer data" in page
    assert "#9999" in page  # the order as the merchant knows it
    assert 'action="/funnels/' in page  # with a retry


class ShopifyDenyingCustomerData:
    """Shopify answering an app without protected customer data access, as its GraphQL does."""

    async def graphql(self, query: str, variables: dict[str, Any]) -> GraphQLResult:
        raise Rejected(
            "Shopify",
            "This app is not approved to access the Customer object.",
            code="ACCESS_DENIED",
        )


@dataclass
class DenyingClients:
    async def shopify_for(self, shop_domain: str) -> ShopifyDenyingCustomerData:
        return ShopifyDenyingCustomerData()


async def a_funnel_keeping_orders(shop_domain: str) -> list[FunnelSync]:
    return [FunnelSync(1, "Funnel", "USD", "camp_1", frozenset({T_SHIRT_GID}), False, True, True)]


async def test_an_order_whose_customer_data_shopify_denies_the_app_is_held_with_what_to_do(
    database: None,
) -> None:
    ctx = cast(
        SyncContext,
        type(
            "Ctx", (), {"clients": DenyingClients(), "live_funnels": staticmethod(a_funnel_keeping_orders)}
        )(),
    )
    payload = order_without_protected_customer_data(int(T_SHIRT_VARIANT))

    await order_flows.sync_order_to_crm(ctx, InboxEventData(1, "shopify", "orders/create", SHOP, payload))

    (held,) = (await health_of(SHOP, utcnow())).failures
    assert held.label == "#9999"
    assert held.reason.startswith("Shopify did not give FunnelSync this order's customer's email or phone")
    assert held.retryable


# -- A funnel order placed in the CRM and edited there afterwards: Shopify's order follows the CRM
# where an app can edit it (note, delivery address); what it cannot take is shown on sync health.


EDITABLE_ORDER_FIELDS = """
{ orders(first: 5) { nodes {
    id name note cancelledAt displayFinancialStatus
    shippingAddress { firstName address1 address2 city zip }
} } }
"""
NEW_ADDRESS = {
    "first_name": "Bo",
    "last_name": "Chen",
    "address": "9 Birch Ln||Suite 5",
    "city": "Cambridge",
    "postal_code": "02139",
    "country_code": "US",
}


async def edit_crm_order(stack: Stack, order_id: str, **changes: Any) -> None:
    edited = await stack.crm.put(f"/_sandbox/users/{await user_id(stack)}/orders/{order_id}", json=changes)
    assert edited.status_code == 200, edited.text
    await settle(stack)


async def the_shopify_order(stack: Stack) -> dict[str, Any]:
    (order,) = (await shopify_graphql(stack, EDITABLE_ORDER_FIELDS))["orders"]["nodes"]
    return dict(order)


async def sync_health(stack: Stack) -> str:
    return (await stack.client.get(f"/funnels/{funnel_of(stack)}/sync/")).text


async def test_a_new_note_and_address_in_the_crm_reach_the_shopify_order_once(stack: Stack) -> None:
    order = await crm_funnel_order(stack)
    crm_before = await crm_writes(stack)

    await edit_crm_order(stack, order["id"], operator_comment="Ring twice", shipping_address=NEW_ADDRESS)

    shopify_order = await the_shopify_order(stack)
    assert shopify_order["note"] == "Ring twice"
    assert shopify_order["shippingAddress"] == {
        "firstName": "Bo",
        "address1": "9 Birch Ln",
        "address2": "Suite 5",
        "city": "Cambridge",
        "zip": "02139",
    }
    assert (await shopify_writes(stack)).get("orderUpdate") == 1
    # Shopify's orders/updated for our write does not come back to the CRM.
    assert await crm_writes(stack) == crm_before
    assert len(await crm_orders(stack)) == 1
    page = await sync_health(stack)
    assert "Nothing failed in the last 24 hours." in page

    # The same content again (a repeat, or an edit of what Shopify does not hold) writes nothing.
    await edit_crm_order(stack, order["id"], operator_comment="Ring twice")
    assert (await shopify_writes(stack)).get("orderUpdate") == 1


async def test_a_cancellation_in_the_crm_is_shown_for_the_merchant_to_make_in_shopify(stack: Stack) -> None:
    order = await crm_funnel_order(stack)

    await edit_crm_order(stack, order["id"], status="cancelled")

    shopify_order = await the_shopify_order(stack)
    assert shopify_order["cancelledAt"] is None  # never cancelled by the app
    assert (await shopify_writes(stack)).get("orderUpdate", 0) == 0
    page = await sync_health(stack)
    assert "Cancelled in the CRM. FunnelSync does not cancel orders in Shopify" in page
    assert shopify_order["name"] in page  # the order as the merchant knows it in Shopify

    # Told once: the same status again adds nothing.
    await edit_crm_order(stack, order["id"], status="cancelled")
    assert (await sync_health(stack)).count("Cancelled in the CRM") == 1


async def test_a_payment_in_the_crm_is_shown_and_the_address_still_follows(stack: Stack) -> None:
    order = await crm_funnel_order(stack, status="pending")
    assert (await the_shopify_order(stack))["displayFinancialStatus"] == "PENDING"

    await edit_crm_order(stack, order["id"], status="paid", shipping_address=NEW_ADDRESS)

    assert (await the_shopify_order(stack))["shippingAddress"]["city"] == "Cambridge"
    page = await sync_health(stack)
    assert "Paid in the CRM. FunnelSync does not mark orders as paid in Shopify" in page
    assert "Its delivery address was updated in Shopify." in page


async def test_a_shopify_orders_edits_in_the_crm_stay_in_the_crm(stack: Stack) -> None:
    await checkout(stack)
    (order,) = await crm_orders(stack)

    await edit_crm_order(stack, order["id"], operator_comment="Edited in the CRM", status="cancelled")

    shopify_order = await the_shopify_order(stack)
    assert shopify_order["note"] == "Leave at the back door"  # Shopify's order is the source
    assert (await shopify_writes(stack)).get("orderUpdate", 0) == 0
    assert "Cancelled in the CRM" not in await sync_health(stack)
