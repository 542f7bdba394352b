"""Orders through the Admin API and a shopper's checkout: orderCreate, orderUpdate, queries,
the unknown-customer rule, custom items, userErrors, webhooks, scopes and the write log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import time_machine

from sandbox.tests.integration.shopify.shopify_sandbox_support import (
    MAIN_SHOP,
    AdminApi,
    WebhookReceiver,
    mint_token,
)
from sandbox.tests.integration.shopify_commerce.commerce_support import (
    SHOP_URL,
    numeric,
    received,
    settled,
    subscribe,
    variant_ids,
    wait_for,
    writes,
)

ORDER_FIELDS = """
  id name email phone note tags createdAt updatedAt cancelledAt sourceName currencyCode
  displayFinancialStatus displayFulfillmentStatus
  customer { id email firstName numberOfOrders }
  shippingAddress { firstName lastName address1 city provinceCode province countryCodeV2 zip }
  billingAddress { address1 countryCodeV2 }
  totalPriceSet { shopMoney { amount currencyCode } }
  lineItems(first: 10) { nodes { id title name quantity sku variantTitle
    variant { id } product { id } originalUnitPriceSet { shopMoney { amount currencyCode } } } }
  fulfillmentOrders(first: 5) { nodes { id status } }
  fulfillments(first: 5) { id }
"""
CREATE = f"""mutation($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {{
  orderCreate(order: $order, options: $options) {{
    order {{ {ORDER_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""
UPDATE = """mutation($input: OrderInput!) {
  orderUpdate(input: $input) { order { id note tags email shippingAddress { city } updatedAt }
    userErrors { field message } }
}"""
ADDRESS = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "address1": "350 Fifth Avenue",
    "city": "New York",
    "provinceCode": "NY",
    "countryCode": "US",
    "zip": "10118",
}


async def create(
    admin: AdminApi, order: dict[str, Any], options: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = await admin.graphql(CREATE, {"order": order, "options": options})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["orderCreate"]
    return result


async def product_count(client: httpx.AsyncClient) -> int:
    count: int = (await client.get(SHOP_URL)).json()["productCount"]
    return count


async def test_order_create_with_a_catalogue_item_and_a_custom_item(
    admin: AdminApi, client: httpx.AsyncClient
) -> None:
    variant = (await variant_ids(admin, 1))[0]
    products_before = await product_count(client)
    result = await create(
        admin,
        {
            "email": "ada@example.com",
            "note": "Leave at the door",
            "tags": ["funnel", "crm"],
            "currency": "USD",
            "financialStatus": "PAID",
            "sourceName": "funnelsync",
            "lineItems": [
                {"variantId": variant, "quantity": 2},
                {
                    "title": "Gift wrapping",
                    "sku": "WRAP",
                    "quantity": 1,
                    "priceSet": {"shopMoney": {"amount": "4.50", "currencyCode": "USD"}},
                    "requiresShipping": False,
                },
            ],
            "shippingAddress": ADDRESS,
            "billingAddress": ADDRESS,
        },
    )
    assert result["userErrors"] == []
    order = result["order"]
    assert order["name"] == "#1001"
    assert order["email"] == "ada@example.com"
    assert order["tags"] == ["crm", "funnel"]
    assert order["sourceName"] == "funnelsync"
    assert order["displayFinancialStatus"] == "PAID"
    assert order["displayFulfillmentStatus"] == "UNFULFILLED"
    assert order["customer"] is None  # no customer input: none associated
    assert order["shippingAddress"]["province"] == "New York"
    assert order["billingAddress"] == {"address1": "350 Fifth Avenue", "countryCodeV2": "US"}
    catalogue, custom = order["lineItems"]["nodes"]
    assert catalogue["variant"] == {"id": variant}
    assert catalogue["product"]["id"].startswith("gid://shopify/Product/")
    assert catalogue["quantity"] == 2
    assert catalogue["sku"]
    unit = catalogue["originalUnitPriceSet"]["shopMoney"]
    assert custom == {
        "id": custom["id"],
        "title": "Gift wrapping",
        "name": "Gift wrapping",
        "quantity": 1,
        "sku": "WRAP",
        "variantTitle": None,
        "variant": None,
        "product": None,
        "originalUnitPriceSet": {"shopMoney": {"amount": "4.50", "currencyCode": "USD"}},
    }
    expected_total = f"{float(unit['amount']) * 2 + 4.5:.2f}"
    assert order["totalPriceSet"]["shopMoney"] == {"amount": expected_total, "currencyCode": "USD"}
    assert [fo["status"] for fo in order["fulfillmentOrders"]["nodes"]] == ["OPEN"]
    assert order["fulfillments"] == []
    # The custom item never reaches the catalogue.
    assert await product_count(client) == products_before
    second = await create(admin, {"lineItems": [{"variantId": variant, "quantity": 1}]})
    assert second["order"]["name"] == "#1002"
    assert second["order"]["displayFinancialStatus"] == "PENDING"


async def test_to_upsert_creates_an_unknown_customer_once(admin: AdminApi, receiver: WebhookReceiver) -> None:
    await subscribe(admin, "CUSTOMERS_CREATE", "ORDERS_CREATE")
    variant = (await variant_ids(admin, 1))[0]
    buyer = {
        "toUpsert": {"email": "new@example.com", "firstName": "New", "lastName": "Buyer", "tags": ["crm"]}
    }
    first = await create(admin, {"customer": buyer, "lineItems": [{"variantId": variant, "quantity": 1}]})
    assert first["userErrors"] == []
    customer = first["order"]["customer"]
    assert customer["email"] == "new@example.com"
    assert first["order"]["email"] == "new@example.com"  # taken from the customer
    second = await create(admin, {"customer": buyer, "lineItems": [{"variantId": variant, "quantity": 1}]})
    assert second["order"]["customer"]["id"] == customer["id"]
    assert second["order"]["customer"]["numberOfOrders"] == "2"
    listed = await admin.graphql('{ customers(first: 5, query: "email:new@example.com") { nodes { id } } }')
    assert listed["data"]["customers"]["nodes"] == [{"id": customer["id"]}]
    [created] = await wait_for(receiver, "customers/create")
    assert created["email"] == "new@example.com"
    orders = await wait_for(receiver, "orders/create", 2)
    assert {o["customer"]["id"] for o in orders} == {numeric(customer["id"])}


async def test_to_associate_needs_an_existing_customer(admin: AdminApi) -> None:
    variant = (await variant_ids(admin, 1))[0]
    result = await create(
        admin,
        {
            "customer": {"toAssociate": {"id": "gid://shopify/Customer/42"}},
            "lineItems": [{"variantId": variant, "quantity": 1}],
        },
    )
    assert result["order"] is None
    assert result["userErrors"] == [
        {
            "field": ["order", "customer", "toAssociate", "id"],
            "message": "Customer does not exist",
            "code": "INVALID",
        }
    ]


async def test_order_create_user_errors_change_nothing(admin: AdminApi, client: httpx.AsyncClient) -> None:
    result = await create(
        admin,
        {
            "email": "bad",
            "phone": "555",
            "lineItems": [
                {"variantId": "gid://shopify/ProductVariant/1", "quantity": 1},
                {"title": "", "quantity": 0},
                {
                    "title": "Euro thing",
                    "quantity": 1,
                    "priceSet": {"shopMoney": {"amount": "1", "currencyCode": "EUR"}},
                },
            ],
        },
    )
    assert result["order"] is None
    assert [(e["field"], e["message"]) for e in result["userErrors"]] == [
        (["order", "email"], "Email is invalid"),
        (["order", "phone"], "Phone is invalid"),
        (["order", "lineItems", "0", "variantId"], "Product variant does not exist"),
        (["order", "lineItems", "1", "quantity"], "Quantity must be greater than or equal to 1"),
        (["order", "lineItems", "1", "title"], "Title can't be blank"),
        (["order", "lineItems", "1", "priceSet"], "Price set can't be blank"),
        (
            ["order", "lineItems", "2", "priceSet", "shopMoney", "currencyCode"],
            "Currency code must match the order's currency USD",
        ),
    ]
    no_items = await create(admin, {"email": "a@example.com"})
    assert no_items["userErrors"] == [
        {"field": ["order", "lineItems"], "message": "Line items can't be blank", "code": "INVALID"}
    ]
    listed = await admin.graphql("{ orders(first: 5) { nodes { id } } }")
    assert listed["data"]["orders"]["nodes"] == []
    counts = await writes(client)
    assert counts["writes"] == {}
    assert counts["refused"] == {"orderCreate": 2}


async def test_inventory_is_taken_off_only_when_asked(admin: AdminApi) -> None:
    query = "query($id: ID!) { productVariant(id: $id) { inventoryQuantity } }"
    variant = (await variant_ids(admin, 1))[0]
    before = (await admin.graphql(query, {"id": variant}))["data"]["productVariant"]["inventoryQuantity"]
    await create(admin, {"lineItems": [{"variantId": variant, "quantity": 1}]})
    await create(
        admin,
        {"lineItems": [{"variantId": variant, "quantity": 2}]},
        {"inventoryBehaviour": "DECREMENT_IGNORING_POLICY"},
    )
    after = (await admin.graphql(query, {"id": variant}))["data"]["productVariant"]["inventoryQuantity"]
    assert after == before - 2


async def test_order_update(admin: AdminApi, receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    await subscribe(admin, "ORDERS_UPDATED")
    variant = (await variant_ids(admin, 1))[0]
    order = (await create(admin, {"lineItems": [{"variantId": variant, "quantity": 1}]}))["order"]
    body = await admin.graphql(
        UPDATE,
        {
            "input": {
                "id": order["id"],
                "note": "Call first",
                "tags": ["vip"],
                "email": "later@example.com",
                "shippingAddress": {**ADDRESS, "city": "Brooklyn"},
            }
        },
    )
    result = body["data"]["orderUpdate"]
    assert result["userErrors"] == []
    assert result["order"]["note"] == "Call first"
    assert result["order"]["tags"] == ["vip"]
    assert result["order"]["email"] == "later@example.com"
    assert result["order"]["shippingAddress"] == {"city": "Brooklyn"}
    [updated] = await wait_for(receiver, "orders/updated")
    assert updated["note"] == "Call first"
    assert updated["shipping_address"]["city"] == "Brooklyn"
    # The same values again: nothing changes, no webhook.
    await admin.graphql(UPDATE, {"input": {"id": order["id"], "note": "Call first"}})
    invalid = await admin.graphql(UPDATE, {"input": {"id": order["id"], "email": "nope"}})
    assert invalid["data"]["orderUpdate"]["userErrors"] == [
        {"field": ["email"], "message": "Email is invalid"}
    ]
    missing = await admin.graphql(UPDATE, {"input": {"id": "gid://shopify/Order/1", "note": "x"}})
    assert missing["data"]["orderUpdate"]["userErrors"] == [
        {"field": ["id"], "message": "Order does not exist"}
    ]
    await settled(client)
    assert len(received(receiver, "orders/updated")) == 1


async def test_orders_query_by_name_and_updated_at(admin: AdminApi) -> None:
    variant = (await variant_ids(admin, 1))[0]
    with time_machine.travel(datetime(2026, 5, 1, 10, tzinfo=UTC), tick=False):
        first = (await create(admin, {"lineItems": [{"variantId": variant, "quantity": 1}]}))["order"]
    with time_machine.travel(datetime(2026, 5, 3, 10, tzinfo=UTC), tick=False):
        second = (await create(admin, {"lineItems": [{"variantId": variant, "quantity": 1}]}))["order"]
    query = "query($q: String) { orders(first: 10, query: $q) { nodes { id name } } }"
    by_name = await admin.graphql(query, {"q": "name:#1002"})
    assert by_name["data"]["orders"]["nodes"] == [{"id": second["id"], "name": "#1002"}]
    by_number = await admin.graphql(query, {"q": "name:1001"})
    assert by_number["data"]["orders"]["nodes"] == [{"id": first["id"], "name": "#1001"}]
    since = await admin.graphql(query, {"q": "updated_at:>'2026-05-02T00:00:00Z'"})
    assert since["data"]["orders"]["nodes"] == [{"id": second["id"], "name": "#1002"}]
    single = await admin.graphql("query($id: ID!) { order(id: $id) { name } }", {"id": first["id"]})
    assert single["data"]["order"] == {"name": "#1001"}
    count = await admin.graphql('{ ordersCount(query: "financial_status:pending") { count } }')
    assert count["data"]["ordersCount"] == {"count": 2}


async def test_orders_cost_scales_with_line_items(admin: AdminApi) -> None:
    body = await admin.graphql(
        "{ orders(first: 10) { nodes { name lineItems(first: 5) { nodes { title variant { id } } } } } }"
    )
    # 2 + 10 x (order 1 + line item connection (2 + 5 x (line item 1 + variant 1)))
    assert body["extensions"]["cost"]["requestedQueryCost"] == 2 + 10 * (1 + 2 + 5 * 2)
    assert body["extensions"]["cost"]["actualQueryCost"] == 2


async def test_scopes_for_orders(client: httpx.AsyncClient, admin: AdminApi) -> None:
    variant = (await variant_ids(admin, 1))[0]
    buyer = {"toUpsert": {"email": "s@example.com"}}
    await create(admin, {"customer": buyer, "lineItems": [{"variantId": variant, "quantity": 1}]})
    no_orders = AdminApi(
        client, MAIN_SHOP, await mint_token(client, MAIN_SHOP, "write_products,write_customers")
    )
    denied = await no_orders.graphql("{ orders(first: 1) { nodes { id } } }")
    assert denied["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert "`read_orders`" in denied["errors"][0]["message"]
    # read_orders without read_customers: the order, but not its customer.
    orders_only = AdminApi(client, MAIN_SHOP, await mint_token(client, MAIN_SHOP, "read_orders"))
    body = await orders_only.graphql("{ orders(first: 1) { nodes { name customer { id } } } }")
    assert body["data"]["orders"]["nodes"] == [{"name": "#1001", "customer": None}]
    assert body["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert "`read_customers`" in body["errors"][0]["message"]
    write = await orders_only.graphql(
        CREATE, {"order": {"lineItems": [{"variantId": variant, "quantity": 1}]}}
    )
    assert write["data"]["orderCreate"] is None
    assert "`write_orders`" in write["errors"][0]["message"]


async def test_api_orders_send_signed_webhooks_in_rest_shape(
    admin: AdminApi, receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    await subscribe(admin, "ORDERS_CREATE", "ORDERS_PAID")
    variant = (await variant_ids(admin, 1))[0]
    order = (
        await create(
            admin,
            {
                "email": "ada@example.com",
                "phone": "+12125550100",
                "note": "Hi",
                "tags": ["a", "b"],
                "financialStatus": "PAID",
                "customer": {"toUpsert": {"email": "ada@example.com", "firstName": "Ada"}},
                "lineItems": [
                    {"variantId": variant, "quantity": 1},
                    {
                        "title": "Engraving",
                        "quantity": 1,
                        "priceSet": {"shopMoney": {"amount": "3", "currencyCode": "USD"}},
                    },
                ],
                "shippingAddress": ADDRESS,
            },
        )
    )["order"]
    [payload] = await wait_for(receiver, "orders/create")
    assert payload["id"] == numeric(order["id"])
    assert payload["admin_graphql_api_id"] == order["id"]
    assert payload["name"] == "#1001"
    assert (payload["email"], payload["phone"], payload["note"], payload["tags"]) == (
        "ada@example.com",
        "+12125550100",
        "Hi",
        "a, b",
    )
    assert (payload["currency"], payload["financial_status"], payload["fulfillment_status"]) == (
        "USD",
        "paid",
        None,
    )
    assert payload["total_price"] == order["totalPriceSet"]["shopMoney"]["amount"]
    assert payload["source_name"] == order["sourceName"]
    assert payload["created_at"]
    assert payload["updated_at"]
    assert payload["customer"]["email"] == "ada@example.com"
    assert payload["customer"]["admin_graphql_api_id"] == order["customer"]["id"]
    assert payload["shipping_address"]["province_code"] == "NY"
    assert payload["shipping_address"]["country_code"] == "US"
    catalogue, custom = payload["line_items"]
    assert catalogue["variant_id"] == numeric(variant)
    assert isinstance(catalogue["product_id"], int)
    assert {"id", "admin_graphql_api_id", "title", "variant_title", "name", "sku", "quantity", "price"} <= (
        catalogue.keys()
    )
    assert (custom["variant_id"], custom["product_id"], custom["title"], custom["price"]) == (
        None,
        None,
        "Engraving",
        "3.00",
    )
    [paid] = await wait_for(receiver, "orders/paid")
    assert paid["id"] == payload["id"]


async def test_shopper_checkout_creates_customer_and_order_with_webhooks(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin, "CUSTOMERS_CREATE", "ORDERS_CREATE")
    variant = (await variant_ids(admin, 1))[0]
    body = {
        "email": "shopper@example.com",
        "firstName": "Sam",
        "lastName": "Shopper",
        "lineItems": [{"variantId": numeric(variant), "quantity": 1}, {"title": "Tip", "price": "2.00"}],
        "shippingAddress": ADDRESS,
        "note": "Ring twice",
    }
    response = await client.post(f"{SHOP_URL}/orders", json=body)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["admin_graphql_api_id"] == f"gid://shopify/Order/{order['id']}"
    assert (order["financial_status"], order["source_name"], order["note"]) == ("paid", "web", "Ring twice")
    assert order["customer"]["email"] == "shopper@example.com"
    assert order["line_items"][1]["variant_id"] is None
    [customer] = await wait_for(receiver, "customers/create")
    assert customer["default_address"]["address1"] == ADDRESS["address1"]
    [created] = await wait_for(receiver, "orders/create")
    assert created["id"] == order["id"]
    # A returning shopper is the same customer.
    again = await client.post(f"{SHOP_URL}/orders", json=body)
    assert again.json()["customer"]["id"] == order["customer"]["id"]
    invalid = await client.post(f"{SHOP_URL}/orders", json={"lineItems": [{"variantId": 1, "quantity": 1}]})
    assert invalid.status_code == 422
    assert [e["field"] for e in invalid.json()["userErrors"]] == [["email"], ["lineItems", "0", "variantId"]]
    # Checkouts and merchant actions are not Admin API writes.
    assert (await writes(client))["writes"] == {"webhookSubscriptionCreate": 2}


async def test_merchant_edits_and_cancels_an_order(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin, "ORDERS_UPDATED", "ORDERS_CANCELLED", "ORDERS_DELETE")
    variant = (await variant_ids(admin, 1))[0]
    order = (
        await client.post(
            f"{SHOP_URL}/orders", json={"email": "m@example.com", "lineItems": [{"variantId": variant}]}
        )
    ).json()
    not_cancelled = await client.delete(f"{SHOP_URL}/orders/{order['id']}")
    assert not_cancelled.status_code == 422
    edited = await client.put(f"{SHOP_URL}/orders/{order['id']}", json={"note": "Gift", "tags": "x, y"})
    assert edited.status_code == 200
    assert (edited.json()["note"], edited.json()["tags"]) == ("Gift", "x, y")
    cancelled = await client.post(f"{SHOP_URL}/orders/{order['id']}/cancel", json={"reason": "customer"})
    assert cancelled.status_code == 200
    assert cancelled.json()["cancel_reason"] == "customer"
    assert (await client.post(f"{SHOP_URL}/orders/{order['id']}/cancel")).status_code == 409
    [payload] = await wait_for(receiver, "orders/cancelled")
    assert payload["cancelled_at"]
    await wait_for(receiver, "orders/updated", 2)
    gql = await admin.graphql(
        "query($id: ID!) { order(id: $id) { cancelledAt fulfillmentOrders(first: 1) { nodes { status } } } }",
        {"id": f"gid://shopify/Order/{order['id']}"},
    )
    assert gql["data"]["order"]["cancelledAt"]
    assert gql["data"]["order"]["fulfillmentOrders"]["nodes"] == [{"status": "CLOSED"}]
    deleted = await client.delete(f"{SHOP_URL}/orders/{order['id']}")
    assert deleted.status_code == 200
    assert await wait_for(receiver, "orders/delete") == [{"id": order["id"]}]
    assert (await client.get(f"{SHOP_URL}/orders/{order['id']}")).status_code == 404


async def test_a_failed_request_applies_nothing_and_a_retry_applies_once(
    admin: AdminApi, client: httpx.AsyncClient
) -> None:
    variant = (await variant_ids(admin, 1))[0]
    fault = await client.post("/_sandbox/faults", json={"kind": "http_500", "shop": MAIN_SHOP})
    assert fault.status_code == 201
    failed = await admin.post(CREATE, {"order": {"lineItems": [{"variantId": variant, "quantity": 1}]}})
    assert failed.status_code == 500
    assert (await writes(client))["writes"] == {}
    retried = await create(admin, {"lineItems": [{"variantId": variant, "quantity": 1}]})
    assert retried["order"]["name"] == "#1001"
    assert (await writes(client))["writes"] == {"orderCreate": 1}
    await client.post("/_sandbox/faults", json={"kind": "throttle", "shop": MAIN_SHOP})
    throttled = await admin.graphql(CREATE, {"order": {"lineItems": [{"variantId": variant, "quantity": 1}]}})
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert (await writes(client))["writes"] == {"orderCreate": 1}
