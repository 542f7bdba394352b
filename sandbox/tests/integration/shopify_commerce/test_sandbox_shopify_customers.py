"""Customers through the Admin API: create, update, delete, queries, userErrors, cost, scopes."""

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

CUSTOMER_FIELDS = """
  id firstName lastName email phone tags note
  emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
  defaultAddress { id firstName lastName address1 address2 city province provinceCode zip country
                   countryCodeV2 phone company }
  addresses(first: 5) { address1 city countryCodeV2 }
  numberOfOrders createdAt updatedAt
"""

CREATE = f"""mutation($input: CustomerInput!) {{
  customerCreate(input: $input) {{ customer {{ {CUSTOMER_FIELDS} }} userErrors {{ field message }} }}
}}"""
UPDATE = f"""mutation($input: CustomerInput!) {{
  customerUpdate(input: $input) {{ customer {{ {CUSTOMER_FIELDS} }} userErrors {{ field message }} }}
}}"""
DELETE = """mutation($id: ID!) {
  customerDelete(input: {id: $id}) { deletedCustomerId userErrors { field message } }
}"""

ADA: dict[str, Any] = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "Ada@Example.com",
    "phone": "+44 20 7946 0018",
    "tags": ["vip", "newsletter"],
    "note": "Met at the fair",
    "emailMarketingConsent": {"marketingState": "SUBSCRIBED"},
    "addresses": [
        {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "address1": "12 St James's Square",
            "city": "London",
            "zip": "SW1Y 4JH",
            "countryCode": "GB",
            "phone": "+442079460018",
        },
        {"address1": "1 Main St", "city": "Ottawa", "provinceCode": "ON", "countryCode": "CA"},
    ],
}


async def create(admin: AdminApi, fields: dict[str, Any]) -> dict[str, Any]:
    body = await admin.graphql(CREATE, {"input": fields})
    result: dict[str, Any] = body["data"]["customerCreate"]
    return result


async def test_customer_create_returns_the_customer_as_shopify_stores_it(admin: AdminApi) -> None:
    body = await admin.graphql(CREATE, {"input": ADA})
    result = body["data"]["customerCreate"]
    assert result["userErrors"] == []
    customer = result["customer"]
    assert customer["id"].startswith("gid://shopify/Customer/")
    assert customer["email"] == "ada@example.com"  # lower-cased
    assert customer["phone"] == "+442079460018"  # E.164
    assert customer["tags"] == ["newsletter", "vip"]
    assert customer["note"] == "Met at the fair"
    assert customer["emailMarketingConsent"]["marketingState"] == "SUBSCRIBED"
    assert customer["emailMarketingConsent"]["marketingOptInLevel"] == "SINGLE_OPT_IN"
    assert customer["emailMarketingConsent"]["consentUpdatedAt"]
    default = customer["defaultAddress"]
    assert default["address1"] == "12 St James's Square"
    assert default["country"] == "United Kingdom"
    assert default["countryCodeV2"] == "GB"
    assert default["id"].startswith("gid://shopify/MailingAddress/")
    assert [a["city"] for a in customer["addresses"]] == ["London", "Ottawa"]
    assert customer["numberOfOrders"] == "0"  # UnsignedInt64 is a string
    # A mutation costs 10, reported like every answer's cost.
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 10
    assert cost["actualQueryCost"] == 10
    assert cost["throttleStatus"]["currentlyAvailable"] <= cost["throttleStatus"]["maximumAvailable"] - 10


async def test_province_names_come_from_the_code(admin: AdminApi) -> None:
    result = await create(
        admin, {"email": "q@example.com", "addresses": [{"provinceCode": "QC", "countryCode": "CA"}]}
    )
    address = result["customer"]["defaultAddress"]
    assert (address["province"], address["provinceCode"], address["country"]) == ("Quebec", "QC", "Canada")


async def test_duplicate_email_and_phone_are_taken(admin: AdminApi) -> None:
    await create(admin, ADA)
    result = await create(admin, {"email": "ADA@example.com", "phone": "+442079460018"})
    assert result["customer"] is None
    assert result["userErrors"] == [
        {"field": ["email"], "message": "Email has already been taken"},
        {"field": ["phone"], "message": "Phone has already been taken"},
    ]


async def test_phone_must_be_e164(admin: AdminApi) -> None:
    for phone in ("555-1234", "6135550123", "+123", "+1234567890123456", "phone"):
        result = await create(admin, {"firstName": "P", "phone": phone})
        assert result["userErrors"] == [{"field": ["phone"], "message": "Phone is invalid"}], phone


async def test_invalid_email_and_an_empty_customer_are_refused(admin: AdminApi) -> None:
    assert (await create(admin, {"email": "not-an-email"}))["userErrors"] == [
        {"field": ["email"], "message": "Email is invalid"}
    ]
    empty = await create(admin, {"note": "nobody"})
    assert empty["userErrors"] == [
        {"field": None, "message": "Customer must have a name, phone number or email address"}
    ]


async def test_marketing_consent_needs_an_email_and_a_settable_state(admin: AdminApi) -> None:
    no_email = await create(
        admin, {"firstName": "X", "emailMarketingConsent": {"marketingState": "SUBSCRIBED"}}
    )
    assert no_email["userErrors"] == [
        {
            "field": ["emailMarketingConsent"],
            "message": "An email address is required to set the email marketing consent state.",
        }
    ]
    read_only = await create(
        admin, {"email": "r@example.com", "emailMarketingConsent": {"marketingState": "NOT_SUBSCRIBED"}}
    )
    assert read_only["userErrors"][0]["field"] == ["emailMarketingConsent", "marketingState"]


async def test_update_is_partial_and_addresses_replace_with_the_first_as_default(admin: AdminApi) -> None:
    customer = (await create(admin, ADA))["customer"]
    body = await admin.graphql(
        UPDATE,
        {
            "input": {
                "id": customer["id"],
                "lastName": "King",
                "tags": "a, b",
                "addresses": [{"address1": "5 New Rd", "city": "Leeds", "countryCode": "GB"}],
            }
        },
    )
    result = body["data"]["customerUpdate"]
    assert result["userErrors"] == []
    updated = result["customer"]
    assert (updated["firstName"], updated["lastName"]) == ("Ada", "King")
    assert updated["email"] == "ada@example.com"
    assert updated["tags"] == ["a", "b"]
    assert updated["addresses"] == [{"address1": "5 New Rd", "city": "Leeds", "countryCodeV2": "GB"}]
    assert updated["defaultAddress"]["city"] == "Leeds"
    assert updated["updatedAt"] >= customer["updatedAt"]


async def test_update_errors(admin: AdminApi) -> None:
    first = (await create(admin, ADA))["customer"]
    second = (await create(admin, {"email": "b@example.com"}))["customer"]
    taken = await admin.graphql(UPDATE, {"input": {"id": second["id"], "email": "ada@example.com"}})
    assert taken["data"]["customerUpdate"]["userErrors"] == [
        {"field": ["email"], "message": "Email has already been taken"}
    ]
    # The customer's own email is not "taken".
    same = await admin.graphql(UPDATE, {"input": {"id": first["id"], "email": "ada@example.com"}})
    assert same["data"]["customerUpdate"]["userErrors"] == []
    missing = await admin.graphql(UPDATE, {"input": {"id": "gid://shopify/Customer/1", "note": "x"}})
    assert missing["data"]["customerUpdate"] == {
        "customer": None,
        "userErrors": [{"field": ["id"], "message": "Customer does not exist"}],
    }


async def test_delete_and_the_open_orders_rule(admin: AdminApi, client: httpx.AsyncClient) -> None:
    customer = (await create(admin, {"email": "buyer@example.com"}))["customer"]
    variant = (await variant_ids(admin, 1))[0]
    order = await client.post(
        f"{SHOP_URL}/orders",
        json={"email": "buyer@example.com", "lineItems": [{"variantId": variant, "quantity": 1}]},
    )
    assert order.status_code == 201, order.text
    refused = await admin.graphql(DELETE, {"id": customer["id"]})
    assert refused["data"]["customerDelete"] == {
        "deletedCustomerId": None,
        "userErrors": [{"field": ["id"], "message": "Customer can’t be deleted because they have orders"}],
    }
    # Once the order is fulfilled the customer may go.
    fulfilled = await client.post(f"{SHOP_URL}/orders/{order.json()['id']}/fulfillments", json={})
    assert fulfilled.status_code == 201, fulfilled.text
    deleted = await admin.graphql(DELETE, {"id": customer["id"]})
    assert deleted["data"]["customerDelete"] == {"deletedCustomerId": customer["id"], "userErrors": []}
    gone = await admin.graphql("query($id: ID!) { customer(id: $id) { id } }", {"id": customer["id"]})
    assert gone["data"]["customer"] is None
    again = await admin.graphql(DELETE, {"id": customer["id"]})
    assert again["data"]["customerDelete"]["userErrors"] == [
        {"field": ["id"], "message": "Customer can't be found"}
    ]


async def test_customers_search_by_email_and_updated_at(admin: AdminApi) -> None:
    with time_machine.travel(datetime(2026, 3, 1, 9, tzinfo=UTC), tick=False):
        ada = (await create(admin, ADA))["customer"]
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=UTC), tick=False):
        bob = (await create(admin, {"firstName": "Bob", "email": "bob@example.com"}))["customer"]
    query = "query($q: String) { customers(first: 10, query: $q) { nodes { id email } } }"
    by_email = await admin.graphql(query, {"q": "email:bob@example.com"})
    assert by_email["data"]["customers"]["nodes"] == [{"id": bob["id"], "email": "bob@example.com"}]
    since = await admin.graphql(query, {"q": "updated_at:>'2026-03-01T12:00:00Z'"})
    assert since["data"]["customers"]["nodes"] == [{"id": bob["id"], "email": "bob@example.com"}]
    everyone = await admin.graphql(query, {"q": "updated_at:>2026-02-28"})
    assert [n["id"] for n in everyone["data"]["customers"]["nodes"]] == [ada["id"], bob["id"]]
    count = await admin.graphql("{ customersCount { count precision } }")
    assert count["data"]["customersCount"] == {"count": 2, "precision": "EXACT"}


async def test_customers_connection_pages_and_costs_like_shopify(admin: AdminApi) -> None:
    for n in range(5):
        await create(admin, {"email": f"c{n}@example.com"})
    query = """query($after: String) { customers(first: 2, after: $after) {
      edges { cursor node { email addresses(first: 3) { city } } } pageInfo { hasNextPage endCursor } } }"""
    emails, after = [], None
    while True:
        body = await admin.graphql(query, {"after": after})
        # 2 + first x (customer 1 + addresses list 1)
        assert body["extensions"]["cost"]["requestedQueryCost"] == 2 + 2 * 2
        page = body["data"]["customers"]
        emails += [e["node"]["email"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert emails == [f"c{n}@example.com" for n in range(5)]


async def test_node_finds_a_customer(admin: AdminApi) -> None:
    customer = (await create(admin, ADA))["customer"]
    body = await admin.graphql(
        "query($id: ID!) { node(id: $id) { ... on Customer { email displayName } } }", {"id": customer["id"]}
    )
    assert body["data"]["node"] == {"email": "ada@example.com", "displayName": "Ada Lovelace"}


async def test_scopes_are_enforced(client: httpx.AsyncClient) -> None:
    products_only = AdminApi(client, MAIN_SHOP, await mint_token(client, MAIN_SHOP, "write_products"))
    denied = await products_only.graphql("{ customers(first: 1) { nodes { id } } }")
    assert denied["data"] is None
    assert denied["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert "`read_customers`" in denied["errors"][0]["message"]

    read_only = AdminApi(client, MAIN_SHOP, await mint_token(client, MAIN_SHOP, "read_customers"))
    assert "errors" not in await read_only.graphql("{ customers(first: 1) { nodes { id } } }")
    write = await read_only.graphql(CREATE, {"input": {"email": "no@example.com"}})
    assert write["data"]["customerCreate"] is None
    assert write["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert "`write_customers`" in write["errors"][0]["message"]
    # Nothing was created.
    assert (await writes(client))["writes"] == {}


async def test_api_changes_send_signed_customer_webhooks(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin, "CUSTOMERS_CREATE", "CUSTOMERS_UPDATE", "CUSTOMERS_DELETE")
    customer = (await create(admin, ADA))["customer"]
    [created] = await wait_for(receiver, "customers/create")
    assert created["id"] == numeric(customer["id"])
    assert created["admin_graphql_api_id"] == customer["id"]
    assert created["email"] == "ada@example.com"
    assert (created["first_name"], created["last_name"]) == ("Ada", "Lovelace")
    assert created["phone"] == "+442079460018"
    assert created["note"] == "Met at the fair"
    # Since API 2025-01 customer webhooks carry no tags nor marketing consent.
    assert {"tags", "email_marketing_consent", "sms_marketing_consent"}.isdisjoint(created)
    default = created["default_address"]
    assert default["default"] is True
    assert (default["country"], default["country_code"], default["city"]) == (
        "United Kingdom",
        "GB",
        "London",
    )
    assert {
        "id",
        "first_name",
        "last_name",
        "address1",
        "address2",
        "province",
        "province_code",
        "zip",
        "phone",
        "company",
    } <= default.keys()
    assert [a["default"] for a in created["addresses"]] == [True, False]

    await admin.graphql(UPDATE, {"input": {"id": customer["id"], "note": "Changed"}})
    [updated] = await wait_for(receiver, "customers/update")
    assert updated["note"] == "Changed"
    # Writing the same values again changes nothing, so Shopify sends nothing.
    await admin.graphql(UPDATE, {"input": {"id": customer["id"], "note": "Changed"}})
    await admin.graphql(DELETE, {"id": customer["id"]})
    [deleted] = await wait_for(receiver, "customers/delete")
    assert deleted["id"] == numeric(customer["id"])
    await settled(client)
    assert len(received(receiver, "customers/update")) == 1
    counts = await writes(client)
    assert counts["writes"] == {
        "customerCreate": 1,
        "customerDelete": 1,
        "customerUpdate": 2,
        "webhookSubscriptionCreate": 3,
    }


async def test_merchant_edits_through_the_control_api_send_webhooks(
    admin: AdminApi, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await subscribe(admin, "CUSTOMERS_CREATE", "CUSTOMERS_UPDATE", "CUSTOMERS_DELETE")
    response = await client.post(
        f"{SHOP_URL}/customers", json={"firstName": "Grace", "email": "grace@example.com"}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["admin_graphql_api_id"] == f"gid://shopify/Customer/{created['id']}"
    edited = await client.put(f"{SHOP_URL}/customers/{created['id']}", json={"lastName": "Hopper"})
    assert edited.status_code == 200
    assert edited.json()["last_name"] == "Hopper"
    invalid = await client.put(f"{SHOP_URL}/customers/{created['id']}", json={"phone": "12"})
    assert invalid.status_code == 422
    assert invalid.json() == {"userErrors": [{"field": ["phone"], "message": "Phone is invalid"}]}
    removed = await client.delete(f"{SHOP_URL}/customers/{created['id']}")
    assert removed.status_code == 200
    await wait_for(receiver, "customers/delete")
    assert received(receiver, "customers/create")[0]["first_name"] == "Grace"
    assert received(receiver, "customers/update")[0]["last_name"] == "Hopper"
    # The merchant's changes are not Admin API writes.
    assert (await writes(client))["writes"] == {"webhookSubscriptionCreate": 3}


CONSENT = """mutation($input: CustomerEmailMarketingConsentUpdateInput!) {
  customerEmailMarketingConsentUpdate(input: $input) {
    customer { emailMarketingConsent { marketingState marketingOptInLevel } }
    userErrors { field message code }
  }
}"""


async def test_email_marketing_consent_update(admin: AdminApi) -> None:
    customer = (await create(admin, {"email": "c@example.com"}))["customer"]
    assert customer["emailMarketingConsent"]["marketingState"] == "NOT_SUBSCRIBED"
    body = await admin.graphql(
        CONSENT,
        {
            "input": {
                "customerId": customer["id"],
                "emailMarketingConsent": {
                    "marketingState": "SUBSCRIBED",
                    "marketingOptInLevel": "CONFIRMED_OPT_IN",
                },
            }
        },
    )
    assert body["data"]["customerEmailMarketingConsentUpdate"] == {
        "customer": {
            "emailMarketingConsent": {
                "marketingState": "SUBSCRIBED",
                "marketingOptInLevel": "CONFIRMED_OPT_IN",
            }
        },
        "userErrors": [],
    }
    phone_only = (await create(admin, {"phone": "+16135550199"}))["customer"]
    assert phone_only["emailMarketingConsent"] is None  # no email, no email consent
    refused = await admin.graphql(
        CONSENT,
        {"input": {"customerId": phone_only["id"], "emailMarketingConsent": {"marketingState": "REDACTED"}}},
    )
    assert refused["data"]["customerEmailMarketingConsentUpdate"]["userErrors"] == [
        {
            "field": ["input", "customerId"],
            "message": "Customer must have an email address",
            "code": "INVALID",
        },
        {
            "field": ["input", "emailMarketingConsent", "marketingState"],
            "message": "Marketing state is not included in the list",
            "code": "INCLUSION",
        },
    ]
