"""The handlers sync gives Shopify's topics (sync/handlers.py), against deliveries of another
shop re-sent under this shop's domain.

Shopify signs every shop's deliveries with the app's one secret and does not sign the shop
header, so for topics whose body names no shop (products/*, customers/*, orders/*,
fulfillments/*) another shop's genuine delivery passes the intake for this shop. The flows
re-read by id from the shop the header names, where another shop's ids are not found (an order
to fulfil included: nothing to wait for), and act only on that shop's funnels and links:
nothing changes.
"""

from __future__ import annotations

from typing import Any

from jobqueue.tables import InboxEvent
from tests.support.live_funnel import (
    ADDRESS,
    crm_customers,
    crm_orders,
    crm_product,
    crm_writes,
    settle,
    shopify_writes,
)
from tests.support.shops import OTHER_SHOP, SHOP, post_webhook
from tests.support.stack import Stack

FIRST_PRODUCT = "{ products(first: 1) { nodes { id variants(first: 1) { nodes { id } } } } }"


async def other_shops_deliveries(stack: Stack) -> dict[str, dict[str, Any]]:
    """Bodies Shopify sends for OTHER_SHOP (the sandbox answers its merchant and shopper
    actions with the payload it delivers), by the topic each is re-sent under."""
    shop = f"/_sandbox/shops/{OTHER_SHOP}"
    token = (await stack.shopify.post(f"{shop}/tokens")).json()["access_token"]
    found = await stack.shopify.post(
        f"/shops/{OTHER_SHOP}/admin/api/2026-10/graphql.json",
        json={"query": FIRST_PRODUCT},
        headers={"X-Shopify-Access-Token": token},
    )
    product = found.json()["data"]["products"]["nodes"][0]
    product_id, variant_gid = product["id"].rsplit("/", 1)[1], product["variants"]["nodes"][0]["id"]
    edited = await stack.shopify.patch(
        f"{shop}/products/{product_id}",
        json={"variants": [{"id": variant_gid.rsplit("/", 1)[1], "price": "41.00"}]},
    )
    assert edited.status_code == 200, edited.text
    customer = await stack.shopify.post(
        f"{shop}/customers",
        json={"firstName": "Ida", "lastName": "Roe", "email": "ida@example.com", "addresses": [ADDRESS]},
    )
    assert customer.status_code == 201, customer.text
    order = await stack.shopify.post(
        f"{shop}/orders",
        json={
            "email": "ida@example.com",
            "lineItems": [{"variantId": variant_gid, "quantity": 1}],
            "shippingAddress": ADDRESS,
        },
    )
    assert order.status_code == 201, order.text
    fulfilled = await stack.shopify.post(
        f"{shop}/orders/{order.json()['id']}/fulfillments", json={"trackingNumber": "1Z999"}
    )
    assert fulfilled.status_code == 201, fulfilled.text
    return {
        "products/update": edited.json(),
        "products/delete": edited.json(),
        "customers/create": customer.json(),
        "customers/update": customer.json(),
        "customers/delete": customer.json(),
        "orders/create": order.json(),
        "orders/updated": order.json(),
        "fulfillments/create": fulfilled.json(),
        "fulfillments/update": fulfilled.json(),
    }


async def both_sides(stack: Stack) -> dict[str, object]:
    return {
        "crm writes": await crm_writes(stack),
        "shopify writes": await shopify_writes(stack),
        "crm product": await crm_product(stack),
        "crm customers": await crm_customers(stack),
        "crm orders": await crm_orders(stack),
    }


async def test_another_shops_deliveries_re_sent_for_this_shop_change_nothing(stack: Stack) -> None:
    deliveries = await other_shops_deliveries(stack)
    await settle(stack)
    before = await both_sides(stack)

    for n, (topic, body) in enumerate(deliveries.items()):
        taken = await post_webhook(stack.client, topic, body, shop_domain=SHOP, webhook_id=f"re-sent-{n}")
        assert taken.status_code == 200, (topic, taken.text)
    await settle(stack)

    handled = await InboxEvent.select(InboxEvent.topic, InboxEvent.shop_domain, InboxEvent.status).where(
        InboxEvent.delivery_key.like("%re-sent-%")
    )
    assert sorted(row["topic"] for row in handled) == sorted(deliveries)
    assert {(row["shop_domain"], row["status"]) for row in handled} == {(SHOP, "processed")}
    assert await both_sides(stack) == before
