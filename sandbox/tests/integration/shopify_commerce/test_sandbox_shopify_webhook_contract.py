"""The sandbox sends what Shopify sends: every webhook topic the app takes, made by the sandbox's
own merchant and shopper actions and received over HTTP, holds no key that Shopify's documented
sample payload for the topic lacks, and the same JSON type for each key both hold.

Shopify's samples are the fixtures in tests/fixtures/shopify_webhooks/ (the webhooks reference
for API 2026-07; the README there says where each comes from). The sandbox's tests import nothing
from the product: they read those files as data.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.tests.integration.shopify.shopify_sandbox_support import MAIN_SHOP, AdminApi, WebhookReceiver
from sandbox.tests.integration.shopify_commerce.commerce_support import (
    SHOP_URL,
    numeric,
    received,
    settled,
    subscribe,
    variant_ids,
    wait_for,
)

FIXTURES = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "shopify_webhooks"

# Documented top-level keys the sandbox does not send: what it does not emulate (README,
# "Where it knowingly differs"). Each entry is checked to still be missing, so the list stays true.
NOT_EMULATED: dict[str, set[str]] = {
    "app/uninstalled": {
        "province",
        "country",
        "address1",
        "zip",
        "city",
        "source",
        "phone",
        "latitude",
        "longitude",
        "primary_locale",
        "address2",
        "updated_at",
        "country_code",
        "country_name",
        "shop_owner",
        "money_format",
        "money_with_currency_format",
        "weight_unit",
        "province_code",
        "taxes_included",
        "auto_configure_tax_inclusivity",
        "tax_shipping",
        "county_taxes",
        "has_discounts",
        "has_gift_cards",
        "google_apps_domain",
        "google_apps_login_enabled",
        "money_in_emails_format",
        "money_with_currency_in_emails_format",
        "eligible_for_payments",
        "requires_extra_payments_agreement",
        "password_enabled",
        "has_storefront",
        "finances",
        "primary_location_id",
        "checkout_api_supported",
        "multi_location_enabled",
        "setup_required",
        "pre_launch_enabled",
        "enabled_presentment_currencies",
        "marketing_sms_consent_enabled_at_checkout",
        "transactional_sms_disabled",
    },
    "orders/create": {
        "app_id",
        "browser_ip",
        "buyer_accepts_marketing",
        "cart_token",
        "checkout_token",
        "client_details",
        "confirmation_number",
        "current_shipping_price_set",
        "current_subtotal_price",
        "current_subtotal_price_set",
        "current_total_additional_fees_set",
        "current_total_discounts",
        "current_total_discounts_set",
        "current_total_duties_set",
        "current_total_price_set",
        "current_total_tax",
        "current_total_tax_set",
        "customer_locale",
        "device_id",
        "duties_included",
        "estimated_taxes",
        "landing_site",
        "landing_site_ref",
        "location_id",
        "merchant_business_entity_id",
        "merchant_of_record_app_id",
        "order_status_url",
        "original_total_additional_fees_set",
        "original_total_duties_set",
        "payment_gateway_names",
        "reference",
        "referring_site",
        "source_identifier",
        "source_url",
        "subtotal_price_set",
        "tax_exempt",
        "tax_lines",
        "token",
        "total_cash_rounding_payment_adjustment_set",
        "total_cash_rounding_refund_adjustment_set",
        "total_discounts_set",
        "total_line_items_price_set",
        "total_outstanding",
        "total_shipping_price_set",
        "total_tax_set",
        "total_tip_received",
        "user_id",
        "discount_applications",
        "payment_terms",
        "returns",
        "line_item_groups",
    },
    "app_subscriptions/update": set(),
}
NOT_EMULATED["orders/updated"] = NOT_EMULATED["orders/create"]

# Removed from webhook customers in API 2025-01.
REMOVED_CUSTOMER_KEYS = {"tags", "email_marketing_consent", "sms_marketing_consent"}
FULFILLMENT_STATUSES = ["pending", "open", "error", "failure", "cancelled", "success"]
ALL_TOPICS = [
    "PRODUCTS_CREATE",
    "PRODUCTS_UPDATE",
    "PRODUCTS_DELETE",
    "COLLECTIONS_CREATE",
    "COLLECTIONS_UPDATE",
    "COLLECTIONS_DELETE",
    "CUSTOMERS_CREATE",
    "CUSTOMERS_UPDATE",
    "CUSTOMERS_DELETE",
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "FULFILLMENTS_CREATE",
    "FULFILLMENTS_UPDATE",
    "BULK_OPERATIONS_FINISH",
    "APP_SUBSCRIPTIONS_UPDATE",
    "APP_UNINSTALLED",
]
ADDRESS = {
    "firstName": "Ann",
    "lastName": "Lee",
    "address1": "1 Elm St",
    "city": "Austin",
    "provinceCode": "TX",
    "zip": "78701",
    "countryCode": "US",
    "phone": "+15125550100",
}
BILLING = """mutation($lineItems: [AppSubscriptionLineItemInput!]!) {
  appSubscriptionCreate(name: "Pro plan", lineItems: $lineItems, returnUrl: "http://app.test/billing") {
    confirmationUrl userErrors { message } } }"""
BULK = """mutation { bulkOperationRunQuery(query: "{ products { edges { node { id } } } }") {
  bulkOperation { id } userErrors { message } } }"""


def documented(topic: str) -> dict[str, Any]:
    sample: dict[str, Any] = json.loads((FIXTURES / f"{topic.replace('/', '.')}.json").read_text())
    return sample


def json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def departures(sent: object, sample: object, path: str = "") -> list[str]:
    """Where `sent` leaves the documented `sample`: keys the sample lacks, other JSON types.
    A null on either side says nothing about the type; list items are held to the sample's first."""
    if sent is None or sample is None:
        return []
    if json_type(sent) != json_type(sample):
        return [f"{path or '.'}: {json_type(sent)}, documented {json_type(sample)}"]
    if isinstance(sent, dict) and isinstance(sample, dict):
        found = [f"{path}.{key}: not in Shopify's payload" for key in sent.keys() - sample.keys()]
        for key in sent.keys() & sample.keys():
            found += departures(sent[key], sample[key], f"{path}.{key}")
        return found
    if isinstance(sent, list) and isinstance(sample, list) and sample:
        return [problem for item in sent for problem in departures(item, sample[0], f"{path}[]")]
    return []


async def sandbox_sends_every_topic(
    client: httpx.AsyncClient, admin: AdminApi, receiver: WebhookReceiver
) -> dict[str, dict[str, Any]]:
    """Every topic the app takes, made by merchant and shopper actions; the last payload of each."""
    await subscribe(admin, *ALL_TOPICS)
    product = (await client.post(f"{SHOP_URL}/products", json={"title": "Contract tee"})).json()
    await client.patch(f"{SHOP_URL}/products/{product['id']}", json={"title": "Contract tee 2"})
    await client.delete(f"{SHOP_URL}/products/{product['id']}")
    collection = (await client.post(f"{SHOP_URL}/collections", json={"title": "Contract"})).json()
    await client.put(f"{SHOP_URL}/collections/{collection['id']}", json={"title": "Contract 2"})
    await client.delete(f"{SHOP_URL}/collections/{collection['id']}")
    customer = await client.post(
        f"{SHOP_URL}/customers",
        json={
            "firstName": "Bo",
            "email": "bo@example.com",
            "tags": "vip",
            "emailMarketingConsent": {"marketingState": "SUBSCRIBED"},
            "addresses": [ADDRESS],
        },
    )
    await client.put(f"{SHOP_URL}/customers/{customer.json()['id']}", json={"note": "likes tea"})
    await client.delete(f"{SHOP_URL}/customers/{customer.json()['id']}")
    variant = (await variant_ids(admin, 1))[0]
    order = await client.post(
        f"{SHOP_URL}/orders",
        json={
            "email": "ann@example.com",
            "firstName": "Ann",
            "lastName": "Lee",
            "tags": "funnel",
            "lineItems": [{"variantId": variant, "quantity": 2}, {"title": "Wrap", "price": "3.00"}],
            "shippingAddress": ADDRESS,
            "billingAddress": ADDRESS,
        },
    )
    assert order.status_code == 201, order.text
    order_id = order.json()["id"]
    fulfillment = await client.post(
        f"{SHOP_URL}/orders/{order_id}/fulfillments", json={"trackingNumber": "1Z"}
    )
    for status in FULFILLMENT_STATUSES:
        path = f"{SHOP_URL}/orders/{order_id}/fulfillments/{fulfillment.json()['id']}"
        assert (await client.put(path, json={"status": status})).status_code == 200
    assert "errors" not in await admin.graphql(BULK)
    await wait_for(receiver, "bulk_operations/finish")
    plan = {"plan": {"appRecurringPricingDetails": {"price": {"amount": "9.00", "currencyCode": "USD"}}}}
    created = (await admin.graphql(BILLING, {"lineItems": [plan]}))["data"]["appSubscriptionCreate"]
    page = (await client.get(created["confirmationUrl"])).text
    decline = re.search(r'action="([^"]+)">\s*<button[^>]*>Decline<', page)
    assert decline is not None, page
    await client.post(decline.group(1), data={})
    await client.post(f"{SHOP_URL}/customers/redact", json={})
    await client.post(f"{SHOP_URL}/customers/data_request", json={})
    await client.post(f"{SHOP_URL}/redact")
    await settled(client)
    await client.post(f"{SHOP_URL}/uninstall")
    await settled(client)
    topics = {r.headers["x-shopify-topic"] for r in receiver.received}
    return {topic: received(receiver, topic)[-1] for topic in topics}


@pytest.fixture
async def sent(
    client: httpx.AsyncClient, admin: AdminApi, receiver: WebhookReceiver
) -> dict[str, dict[str, Any]]:
    return await sandbox_sends_every_topic(client, admin, receiver)


TAKEN = sorted(path.stem.replace(".", "/") for path in FIXTURES.glob("*.json"))


def test_every_topic_the_app_takes_has_a_documented_sample() -> None:
    # sync/topics.py's Shopify registry, spelled out: the sandbox's tests do not import the product.
    assert (
        sorted(
            [
                "app/uninstalled",
                "app_subscriptions/update",
                "bulk_operations/finish",
                "collections/create",
                "collections/delete",
                "collections/update",
                "customers/create",
                "customers/data_request",
                "customers/delete",
                "customers/redact",
                "customers/update",
                "fulfillments/create",
                "fulfillments/update",
                "orders/create",
                "orders/updated",
                "products/create",
                "products/delete",
                "products/update",
                "shop/redact",
            ]
        )
        == TAKEN
    )


async def test_each_payload_holds_only_documented_keys_of_the_documented_types(
    sent: dict[str, dict[str, Any]],
) -> None:
    assert sorted(sent) == TAKEN
    problems = {topic: departures(payload, documented(topic)) for topic, payload in sent.items()}
    assert {topic: found for topic, found in problems.items() if found} == {}


async def test_each_payload_has_every_documented_top_level_key_but_the_known_gaps(
    sent: dict[str, dict[str, Any]],
) -> None:
    missing = {topic: set(documented(topic)) - set(payload) for topic, payload in sent.items()}
    assert {topic: keys for topic, keys in missing.items() if keys} == {
        topic: keys for topic, keys in NOT_EMULATED.items() if keys
    }


async def test_customers_in_webhooks_carry_no_tags_nor_marketing_consent(
    sent: dict[str, dict[str, Any]],
) -> None:
    for customer in (sent["customers/create"], sent["customers/update"], sent["orders/create"]["customer"]):
        assert REMOVED_CUSTOMER_KEYS.isdisjoint(customer), customer


async def test_ids_are_64_bit_integers_past_what_a_double_holds(sent: dict[str, dict[str, Any]]) -> None:
    order = sent["orders/create"]
    for value in (order["id"], order["customer"]["id"], order["line_items"][0]["variant_id"]):
        assert isinstance(value, int)
        assert 2**53 < value < 2**63
    assert order["admin_graphql_api_id"] == f"gid://shopify/Order/{order['id']}"


async def test_fulfillments_update_goes_through_every_documented_status(
    sent: dict[str, dict[str, Any]], receiver: WebhookReceiver
) -> None:
    statuses = [payload["status"] for payload in received(receiver, "fulfillments/update")]
    assert statuses == FULFILLMENT_STATUSES
    assert received(receiver, "fulfillments/create")[0]["status"] == "success"


async def test_collections_delete_names_the_deleted_collection(sent: dict[str, dict[str, Any]]) -> None:
    deleted = sent["collections/delete"]
    assert deleted == {
        "id": deleted["id"],
        "published_scope": "web",
        "admin_graphql_api_id": f"gid://shopify/Collection/{deleted['id']}",
    }
    assert sent["collections/update"]["id"] == deleted["id"]


async def test_a_fulfillment_status_shopify_does_not_have_is_refused(
    client: httpx.AsyncClient, admin: AdminApi
) -> None:
    variant = (await variant_ids(admin, 1))[0]
    order = (
        await client.post(
            f"{SHOP_URL}/orders",
            json={"email": "a@example.com", "lineItems": [{"variantId": variant, "quantity": 1}]},
        )
    ).json()
    fulfillment = (await client.post(f"{SHOP_URL}/orders/{order['id']}/fulfillments", json={})).json()
    path = f"{SHOP_URL}/orders/{order['id']}/fulfillments/{fulfillment['id']}"
    refused = await client.put(path, json={"status": "shipped"})
    assert refused.status_code == 422
    assert refused.json()["userErrors"][0]["field"] == ["status"]


async def test_products_carry_full_details_for_the_first_100_variants_and_every_variant_gid(
    client: httpx.AsyncClient, admin: AdminApi, receiver: WebhookReceiver
) -> None:
    await subscribe(admin, "PRODUCTS_UPDATE")
    generated = await client.post(
        f"{SHOP_URL}/catalog/generate", json={"products": 1, "variants_per_product": 120}
    )
    product_id = generated.json()["productIds"][0]
    await client.patch(f"{SHOP_URL}/products/{product_id}", json={"title": "Big tee"})
    payload = (await wait_for(receiver, "products/update"))[0]

    assert [v["position"] for v in payload["variants"]] == list(range(1, 101))
    gids = [v["admin_graphql_api_id"] for v in payload["variant_gids"]]
    assert len(set(gids)) == 120
    assert {f"gid://shopify/ProductVariant/{v['id']}" for v in payload["variants"]} < set(gids)
    assert numeric(gids[0]) > 2**53
    assert MAIN_SHOP in receiver.received[0].headers["x-shopify-shop-domain"]
