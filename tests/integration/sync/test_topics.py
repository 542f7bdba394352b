"""Shopify's own documented payload of every topic in the registry (sync/topics.py), sent signed to the
running app's /webhooks/shopify, is taken and has its effect.

The payloads are the fixtures in tests/fixtures/shopify_webhooks/ (Shopify's webhooks reference, API
2026-07). Each is changed only where it must point at our test data: the shop's domain and the ids
(with their global ids) of records that exist in the sandbox; every other key and value is Shopify's.
The sandbox first stops delivering to the app (its subscriptions are deleted), so that what reaches
the app is the documented payload alone; the records are changed in the sandbox without a webhook, and
the effect the app then has can only come from the documented payload.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from iam.tables import PrivacyRequest, Shop
from jobqueue.tables import InboxEvent, InboxStatus, Job
from sync.tables import SyncLink
from sync.topics import SHOPIFY_TOPICS
from tests.support.live_funnel import (
    ADDRESS,
    T_SHIRT_GID,
    T_SHIRT_PRODUCT,
    T_SHIRT_VARIANT,
    checkout,
    crm_customers,
    crm_orders,
    crm_product,
    settle,
    shopify_graphql,
)
from tests.support.shops import SHOP, post_webhook
from tests.support.stack import Stack

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shopify_webhooks"
SUBSCRIPTIONS = "{ webhookSubscriptions(first: 100) { nodes { id } } }"
UNSUBSCRIBE = "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { userErrors { message } } }"


def documented(topic: str) -> dict[str, Any]:
    sample: dict[str, Any] = json.loads((FIXTURES / f"{topic.replace('/', '.')}.json").read_text())
    return sample


def pointed_at(payload: dict[str, Any], kind: str, numeric_id: int | str) -> dict[str, Any]:
    """`payload` with its `id` and `admin_graphql_api_id` naming our record of `kind`."""
    return payload | {"id": int(numeric_id), "admin_graphql_api_id": f"gid://shopify/{kind}/{numeric_id}"}


async def feed(stack: Stack, topic: str, payload: dict[str, Any]) -> None:
    """Sends the payload as Shopify would, and runs the worker until the app is done with it."""
    answer = await post_webhook(stack.client, topic, payload, shop_domain=SHOP)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "stored"}
    await settle(stack)


async def silence_shopify(stack: Stack) -> None:
    """The sandbox stops sending the app webhooks: its subscriptions go."""
    data = await shopify_graphql(stack, SUBSCRIPTIONS)
    for node in data["webhookSubscriptions"]["nodes"]:
        await shopify_graphql(stack, UNSUBSCRIBE, {"id": node["id"]})
    assert (await shopify_graphql(stack, SUBSCRIPTIONS))["webhookSubscriptions"]["nodes"] == []


async def sandbox(stack: Stack, method: str, path: str, **body: Any) -> dict[str, Any]:
    answer = await stack.shopify.request(method, f"/_sandbox/shops/{SHOP}{path}", json=body or None)
    assert answer.status_code < 300, answer.text
    return dict(answer.json()) if answer.content else {}


def test_every_topic_in_the_registry_has_a_documented_payload() -> None:
    assert sorted(path.stem.replace(".", "/") for path in FIXTURES.glob("*.json")) == sorted(
        topic.name for topic in SHOPIFY_TOPICS
    )


async def test_documented_product_payloads_bring_shopifys_product_to_the_crm(stack: Stack) -> None:
    await silence_shopify(stack)
    for topic, price in (("products/update", "27.00"), ("products/create", "28.00")):
        await sandbox(stack, "PUT", f"/products/{T_SHIRT_PRODUCT}/variants/{T_SHIRT_VARIANT}", price=price)
        payload = pointed_at(documented(topic), "Product", T_SHIRT_PRODUCT)
        payload["variants"][0] |= {"id": int(T_SHIRT_VARIANT), "product_id": int(T_SHIRT_PRODUCT)}
        payload["variants"][0]["admin_graphql_api_id"] = T_SHIRT_GID
        await feed(stack, topic, payload)
        assert (await crm_product(stack))["price"] == price

    await sandbox(stack, "DELETE", f"/products/{T_SHIRT_PRODUCT}")
    await feed(stack, "products/delete", documented("products/delete") | {"id": int(T_SHIRT_PRODUCT)})
    assert (await crm_product(stack))["active"] is False


async def test_documented_collection_payloads_bring_the_product_groups_to_the_crm(stack: Stack) -> None:
    await silence_shopify(stack)
    before = (await crm_product(stack))["collections"]
    summer = await sandbox(stack, "POST", "/collections", title="Summer", productIds=[T_SHIRT_PRODUCT])
    await feed(
        stack, "collections/create", pointed_at(documented("collections/create"), "Collection", summer["id"])
    )
    assert (await crm_product(stack))["collections"] == sorted([*before, "Summer"])

    await sandbox(stack, "PUT", f"/collections/{summer['id']}", title="Late summer")
    await feed(
        stack, "collections/update", pointed_at(documented("collections/update"), "Collection", summer["id"])
    )
    assert (await crm_product(stack))["collections"] == sorted([*before, "Late summer"])

    await sandbox(stack, "DELETE", f"/collections/{summer['id']}")
    await feed(
        stack, "collections/delete", pointed_at(documented("collections/delete"), "Collection", summer["id"])
    )
    assert (await crm_product(stack))["collections"] == before


async def test_documented_customer_payloads_bring_shopifys_customer_to_the_crm(stack: Stack) -> None:
    """Shopify's customer webhooks carry no tags nor marketing consent since 2025-01: the CRM gets
    them all the same, read from Shopify."""
    await silence_shopify(stack)
    customer = await sandbox(
        stack, "POST", "/customers", firstName="Bo", lastName="Biller", email="bo@example.com", tags="vip",
        emailMarketingConsent={"marketingState": "SUBSCRIBED"}, addresses=[ADDRESS],
    )  # fmt: skip
    payload = pointed_at(documented("customers/create"), "Customer", customer["id"])
    payload["default_address"]["customer_id"] = customer["id"]
    await feed(stack, "customers/create", payload)
    (crm,) = await crm_customers(stack)
    assert (crm["email"], crm["last_name"], crm["tags"]) == ("bo@example.com", "Biller", ["vip"])

    edited = await sandbox(stack, "PUT", f"/customers/{customer['id']}", lastName="Biller-Wu")
    # Shopify's delivery carries the time of the edit it reports; the app skips one not newer
    # than what it last synced.
    await feed(stack, "customers/update", payload | {"updated_at": edited["updated_at"]})
    assert [c["last_name"] for c in await crm_customers(stack)] == ["Biller-Wu"]

    await sandbox(stack, "DELETE", f"/customers/{customer['id']}")
    await feed(
        stack, "customers/delete", pointed_at(documented("customers/delete"), "Customer", customer["id"])
    )
    assert await crm_customers(stack) == []


async def documented_order(stack: Stack) -> dict[str, Any]:
    """Shopify's sample order pointed at an order the shop holds (the app syncs only those) and
    the app never heard of, whose first line is the funnel's T-shirt (Shopify's sample sells
    products that do not exist here), so that the order is the funnel's."""
    placed = await checkout(stack, email="john@example.com")
    order = pointed_at(documented("orders/create"), "Order", placed["id"])
    order["customer"] = pointed_at(order["customer"], "Customer", placed["customer"]["id"])
    order["line_items"][0] |= {"variant_id": int(T_SHIRT_VARIANT), "product_id": int(T_SHIRT_PRODUCT)}
    return order


async def test_documented_order_and_fulfillment_payloads_reach_the_crm_order(stack: Stack) -> None:
    await silence_shopify(stack)
    order = await documented_order(stack)
    await feed(stack, "orders/create", order)
    (crm_order,) = await crm_orders(stack)
    assert crm_order["external_id"] == order["admin_graphql_api_id"]
    assert crm_order["status"] == "cancelled"  # Shopify's sample is a cancelled, voided order
    assert {c["email"] for c in await crm_customers(stack)} == {"john@example.com"}

    await feed(stack, "orders/updated", copy.deepcopy(order) | {"note": "Leave at the back door"})
    assert [o["external_id"] for o in await crm_orders(stack)] == [order["admin_graphql_api_id"]]

    await feed(stack, "fulfillments/create", documented("fulfillments/create") | {"order_id": order["id"]})
    (crm_order,) = await crm_orders(stack)
    tracking = [(f["tracking_number"], f["carrier"]) for f in crm_order["fulfillments"]]
    assert tracking == [("1z827wk74630", "UPS")]
    await feed(stack, "fulfillments/update", documented("fulfillments/update") | {"order_id": order["id"]})
    assert len((await crm_orders(stack))[0]["fulfillments"]) == 1


async def test_documented_privacy_and_uninstall_payloads_do_what_they_ask(stack: Stack) -> None:
    """The compliance samples name the shop `{shop}.myshopify.com` and app/uninstalled's sample has
    `myshopify_domain` null: both are set to our shop's domain, which the intake checks against the
    signed header. Shopify sends shop/redact 48 hours after app/uninstalled, so they come in that order."""
    await silence_shopify(stack)
    order = await documented_order(stack)  # its customer is john@example.com, as in the privacy samples
    await feed(stack, "orders/create", order)
    # The privacy samples' customer and orders, as ours: the order's customer and the order.
    ours = {
        "shop_domain": SHOP,
        "customer": {**documented("customers/redact")["customer"], "id": order["customer"]["id"]},
    }
    await feed(
        stack,
        "customers/data_request",
        documented("customers/data_request") | ours | {"orders_requested": [order["id"]]},
    )
    await feed(
        stack, "customers/redact", documented("customers/redact") | ours | {"orders_to_redact": [order["id"]]}
    )
    remaining = await InboxEvent.select(InboxEvent.topic, InboxEvent.payload).output(load_json=True)
    assert "john@example.com" not in str(remaining)

    # The app ends the install only once Shopify refuses its token: the merchant uninstalls first.
    await sandbox(stack, "POST", "/uninstall")
    await feed(stack, "app/uninstalled", documented("app/uninstalled") | {"myshopify_domain": SHOP})
    shop = await Shop.select(Shop.uninstalled_at).where(Shop.domain == SHOP).first()
    assert shop is not None
    assert shop["uninstalled_at"] is not None

    await feed(stack, "shop/redact", documented("shop/redact") | {"shop_domain": SHOP})
    topics = await PrivacyRequest.select(PrivacyRequest.topic).output(as_list=True)
    assert sorted(topics) == ["customers/data_request", "customers/redact", "shop/redact"]
    assert await SyncLink.count().where(SyncLink.shop_domain == SHOP) == 0


async def test_documented_billing_and_bulk_payloads_are_taken_without_a_failure(stack: Stack) -> None:
    """Their samples name a charge and a bulk operation that do not exist here: the app takes them,
    finds nothing of its own to act on, and nothing fails."""
    await silence_shopify(stack)
    for topic in ("app_subscriptions/update", "bulk_operations/finish"):
        await feed(stack, topic, documented(topic))
        statuses = (
            await InboxEvent.select(InboxEvent.status).where(InboxEvent.topic == topic).output(as_list=True)
        )
        assert statuses == [InboxStatus.PROCESSED]
    assert await Job.count().where(Job.last_error != "") == 0
