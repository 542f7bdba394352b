"""Fulfillments: fulfillmentCreate (whole and partial), tracking updates, cancelling, the
merchant's fulfilment, webhooks with faults, and the write_fulfillments scope."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.tests.integration.shopify.shopify_sandbox_support import (
    MAIN_SHOP,
    AdminApi,
    WebhookReceiver,
    eventually,
    mint_token,
)
from sandbox.tests.integration.shopify_commerce.commerce_support import (
    SHOP_URL,
    deliveries,
    numeric,
    received,
    settled,
    subscribe,
    variant_ids,
    wait_for,
    writes,
)

ORDER = """mutation($variant: ID!) {
  orderCreate(order: {email: "f@example.com", financialStatus: PAID, lineItems: [
      {variantId: $variant, quantity: 3},
      {title: "Manual", quantity: 1, priceSet: {shopMoney: {amount: "1.00", currencyCode: USD}}}]}) {
    order { id fulfillmentOrders(first: 5) { nodes { id status
      lineItems(first: 5) { nodes { id totalQuantity remainingQuantity lineItem { id title } } } } } }
    userErrors { field message }
  }
}"""
FULFILL = """mutation($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment, message: "Shipped") {
    fulfillment { id name status createdAt updatedAt trackingInfo { number company url }
      order { displayFulfillmentStatus fulfillments { id status }
        fulfillmentOrders(first: 5) {
          nodes { status lineItems(first: 5) { nodes { remainingQuantity } } } } } }
    userErrors { field message }
  }
}"""
TRACKING = """mutation($id: ID!, $tracking: FulfillmentTrackingInput!) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $tracking) {
    fulfillment { id trackingInfo { number company url } }
    userErrors { field message }
  }
}"""
TRACKED = {"number": "1Z999AA10123456784", "company": "UPS", "url": "https://www.ups.com/track?num=1Z999"}


async def new_order(admin: AdminApi) -> dict[str, Any]:
    variant = (await variant_ids(admin, 1))[0]
    body = await admin.graphql(ORDER, {"variant": variant})
    order: dict[str, Any] = body["data"]["orderCreate"]["order"]
    return order


async def fulfill(admin: AdminApi, fulfillment: dict[str, Any]) -> dict[str, Any]:
    body = await admin.graphql(FULFILL, {"fulfillment": fulfillment})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["fulfillmentCreate"]
    return result


async def test_fulfilling_everything_closes_the_fulfillment_order(admin: AdminApi) -> None:
    order = await new_order(admin)
    fulfillment_order = order["fulfillmentOrders"]["nodes"][0]
    result = await fulfill(
        admin,
        {
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fulfillment_order["id"]}],
            "trackingInfo": TRACKED,
            "notifyCustomer": True,
        },
    )
    assert result["userErrors"] == []
    fulfillment = result["fulfillment"]
    assert fulfillment["id"].startswith("gid://shopify/Fulfillment/")
    assert fulfillment["name"] == "#1001.1"
    assert fulfillment["status"] == "SUCCESS"
    assert fulfillment["trackingInfo"] == [TRACKED]
    assert fulfillment["createdAt"]
    assert fulfillment["updatedAt"]
    assert fulfillment["order"]["displayFulfillmentStatus"] == "FULFILLED"
    assert fulfillment["order"]["fulfillments"] == [{"id": fulfillment["id"], "status": "SUCCESS"}]
    [closed] = fulfillment["order"]["fulfillmentOrders"]["nodes"]
    assert closed["status"] == "CLOSED"
    assert [li["remainingQuantity"] for li in closed["lineItems"]["nodes"]] == [0, 0]
    again = await fulfill(
        admin, {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fulfillment_order["id"]}]}
    )
    assert again["fulfillment"] is None
    assert again["userErrors"] == [
        {
            "field": ["fulfillment", "lineItemsByFulfillmentOrder", "0", "fulfillmentOrderId"],
            "message": f"Fulfillment order {fulfillment_order['id']} has an unfulfillable status= closed.",
        }
    ]


async def test_partial_fulfillment(admin: AdminApi) -> None:
    order = await new_order(admin)
    fulfillment_order = order["fulfillmentOrders"]["nodes"][0]
    shirt = fulfillment_order["lineItems"]["nodes"][0]
    partial = await fulfill(
        admin,
        {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": fulfillment_order["id"],
                    "fulfillmentOrderLineItems": [{"id": shirt["id"], "quantity": 2}],
                }
            ]
        },
    )
    assert partial["userErrors"] == []
    assert partial["fulfillment"]["trackingInfo"] == []
    status = partial["fulfillment"]["order"]
    assert status["displayFulfillmentStatus"] == "PARTIALLY_FULFILLED"
    [in_progress] = status["fulfillmentOrders"]["nodes"]
    assert in_progress["status"] == "IN_PROGRESS"
    assert [li["remainingQuantity"] for li in in_progress["lineItems"]["nodes"]] == [1, 1]
    too_many = await fulfill(
        admin,
        {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": fulfillment_order["id"],
                    "fulfillmentOrderLineItems": [{"id": shirt["id"], "quantity": 2}],
                }
            ]
        },
    )
    assert too_many["userErrors"] == [
        {
            "field": [
                "fulfillment",
                "lineItemsByFulfillmentOrder",
                "0",
                "fulfillmentOrderLineItems",
                "0",
                "quantity",
            ],
            "message": "Invalid fulfillment order line item quantity requested.",
        }
    ]
    rest = await fulfill(
        admin, {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fulfillment_order["id"]}]}
    )
    assert rest["fulfillment"]["name"] == "#1001.2"
    assert rest["fulfillment"]["order"]["displayFulfillmentStatus"] == "FULFILLED"


async def test_unknown_fulfillment_order(admin: AdminApi) -> None:
    result = await fulfill(
        admin, {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/9"}]}
    )
    assert result["userErrors"] == [
        {
            "field": ["fulfillment", "lineItemsByFulfillmentOrder", "0", "fulfillmentOrderId"],
            "message": "Fulfillment order does not exist.",
        }
    ]


async def test_tracking_update_and_cancel(
    admin: AdminApi, receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    await subscribe(admin, "FULFILLMENTS_CREATE", "FULFILLMENTS_UPDATE", "ORDERS_UPDATED")
    order = await new_order(admin)
    created = await fulfill(
        admin,
        {
            "lineItemsByFulfillmentOrder": [
                {"fulfillmentOrderId": order["fulfillmentOrders"]["nodes"][0]["id"]}
            ]
        },
    )
    fulfillment_id = created["fulfillment"]["id"]
    body = await admin.graphql(TRACKING, {"id": fulfillment_id, "tracking": TRACKED})
    result = body["data"]["fulfillmentTrackingInfoUpdate"]
    assert result["userErrors"] == []
    assert result["fulfillment"]["trackingInfo"] == [TRACKED]
    [update] = await wait_for(receiver, "fulfillments/update")
    assert (update["tracking_number"], update["tracking_company"], update["tracking_url"]) == (
        TRACKED["number"],
        TRACKED["company"],
        TRACKED["url"],
    )
    assert update["tracking_numbers"] == [TRACKED["number"]]
    cancel = await admin.graphql(
        "mutation($id: ID!) { fulfillmentCancel(id: $id) { "
        "fulfillment { status order { displayFulfillmentStatus } } userErrors { message } } }",
        {"id": fulfillment_id},
    )
    assert cancel["data"]["fulfillmentCancel"] == {
        "fulfillment": {"status": "CANCELLED", "order": {"displayFulfillmentStatus": "UNFULFILLED"}},
        "userErrors": [],
    }
    cancelled = await wait_for(receiver, "fulfillments/update", 2)
    assert {c["status"] for c in cancelled} == {"success", "cancelled"}
    missing = await admin.graphql(TRACKING, {"id": "gid://shopify/Fulfillment/5", "tracking": TRACKED})
    assert missing["data"]["fulfillmentTrackingInfoUpdate"]["userErrors"] == [
        {"field": ["fulfillmentId"], "message": "Fulfillment does not exist."}
    ]
    await settled(client)
    assert (await writes(client))["writes"]["fulfillmentCreate"] == 1


async def test_fulfillment_webhooks_in_rest_shape(admin: AdminApi, receiver: WebhookReceiver) -> None:
    await subscribe(admin, "FULFILLMENTS_CREATE", "ORDERS_FULFILLED", "ORDERS_UPDATED")
    order = await new_order(admin)
    fulfillment = (
        await fulfill(
            admin,
            {
                "lineItemsByFulfillmentOrder": [
                    {"fulfillmentOrderId": order["fulfillmentOrders"]["nodes"][0]["id"]}
                ],
                "trackingInfo": TRACKED,
            },
        )
    )["fulfillment"]
    [payload] = await wait_for(receiver, "fulfillments/create")
    assert payload["id"] == numeric(fulfillment["id"])
    assert payload["admin_graphql_api_id"] == fulfillment["id"]
    assert payload["order_id"] == numeric(order["id"])
    assert payload["status"] == "success"
    assert (payload["tracking_company"], payload["tracking_number"], payload["tracking_url"]) == (
        "UPS",
        TRACKED["number"],
        TRACKED["url"],
    )
    assert payload["tracking_numbers"] == [TRACKED["number"]]
    assert [li["quantity"] for li in payload["line_items"]] == [3, 1]
    assert payload["created_at"]
    assert payload["updated_at"]
    [fulfilled] = await wait_for(receiver, "orders/fulfilled")
    assert fulfilled["fulfillment_status"] == "fulfilled"
    [updated] = await wait_for(receiver, "orders/updated")
    assert updated["fulfillments"][0]["id"] == payload["id"]


async def test_merchant_fulfils_through_the_control_api(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin, "FULFILLMENTS_CREATE", "FULFILLMENTS_UPDATE")
    order = await new_order(admin)
    order_id = numeric(order["id"])
    line = order["fulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"][0]["lineItem"]
    response = await client.post(
        f"{SHOP_URL}/orders/{order_id}/fulfillments",
        json={
            "trackingNumber": "TRACK-1",
            "trackingCompany": "DHL",
            "lineItems": [{"id": numeric(line["id"]), "quantity": 1}],
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["admin_graphql_api_id"] == f"gid://shopify/Fulfillment/{created['id']}"
    assert (created["tracking_number"], created["tracking_company"]) == ("TRACK-1", "DHL")
    [hook] = await wait_for(receiver, "fulfillments/create")
    assert hook["id"] == created["id"]
    edit = await client.put(
        f"{SHOP_URL}/orders/{order_id}/fulfillments/{created['id']}", json={"trackingNumber": "TRACK-2"}
    )
    assert edit.json()["tracking_numbers"] == ["TRACK-2"]
    [hook_update] = await wait_for(receiver, "fulfillments/update")
    assert hook_update["tracking_number"] == "TRACK-2"
    too_many = await client.post(
        f"{SHOP_URL}/orders/{order_id}/fulfillments",
        json={"lineItems": [{"id": numeric(line["id"]), "quantity": 5}]},
    )
    assert too_many.status_code == 422


async def test_webhook_duplicate_and_out_of_order_faults_apply(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin, "ORDERS_CREATE")
    variant = (await variant_ids(admin, 1))[0]
    added = await client.post("/_sandbox/faults", json={"kind": "webhook_duplicate", "shop": MAIN_SHOP})
    assert added.status_code == 201
    await client.post(
        f"{SHOP_URL}/orders", json={"email": "d@example.com", "lineItems": [{"variantId": variant}]}
    )
    await wait_for(receiver, "orders/create", 2)
    first, second = received(receiver, "orders/create")
    assert first == second
    ids = {r.headers["x-shopify-webhook-id"] for r in receiver.received}
    assert len(ids) == 1  # the same delivery twice: the app must dedupe on the webhook id
    receiver.received.clear()

    await client.post(
        "/_sandbox/faults", json={"kind": "webhook_out_of_order", "shop": MAIN_SHOP, "count": 2}
    )
    for email in ("one@example.com", "two@example.com"):
        await client.post(f"{SHOP_URL}/orders", json={"email": email, "lineItems": [{"variantId": variant}]})
    await wait_for(receiver, "orders/create", 2)
    await eventually(lambda: len(receiver.received) == 2)
    assert [p["email"] for p in received(receiver, "orders/create")] == ["two@example.com", "one@example.com"]
    assert all(d["success"] for d in await deliveries(client, topic="orders/create"))


async def test_fulfillments_need_write_fulfillments(client: httpx.AsyncClient, admin: AdminApi) -> None:
    order = await new_order(admin)
    no_fulfil = AdminApi(client, MAIN_SHOP, await mint_token(client, MAIN_SHOP, "write_orders"))
    body = await no_fulfil.graphql(
        FULFILL,
        {
            "fulfillment": {
                "lineItemsByFulfillmentOrder": [
                    {"fulfillmentOrderId": order["fulfillmentOrders"]["nodes"][0]["id"]}
                ]
            }
        },
    )
    assert body["data"]["fulfillmentCreate"] is None
    assert body["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert "`write_fulfillments`" in body["errors"][0]["message"]
    check = await admin.graphql(
        "query($id: ID!) { order(id: $id) { displayFulfillmentStatus } }", {"id": order["id"]}
    )
    assert check["data"]["order"]["displayFulfillmentStatus"] == "UNFULFILLED"
