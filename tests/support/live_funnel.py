"""A live funnel on the in-process stack, and helpers to act on either side and wait for the sync."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from jobqueue.tables import InboxEvent
from sandbox.shopify.seed import FIRST_ID
from tests.support.funnel_wizard import add_payment_processor, complete_wizard, crm_user_id, post_form
from tests.support.shops import SHOP, install_shop, sign_in
from tests.support.stack import Stack

# The seed allocates ids from FIRST_ID in a fixed order: the demo store's first product.
T_SHIRT_PRODUCT, T_SHIRT_VARIANT = str(FIRST_ID + 2), str(FIRST_ID + 8)
T_SHIRT_GID = f"gid://shopify/ProductVariant/{T_SHIRT_VARIANT}"


async def live_funnel(stack: Stack) -> int:
    """Installs the shop through its webhooks and CRM account, and publishes one funnel."""
    token = (await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")).json()["access_token"]
    await install_shop(stack.app, SHOP, access_token=token)
    await settle(stack)
    await sign_in(stack.client, SHOP)
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    await settle(stack)
    return funnel_id


async def settle(stack: Stack, rounds: int = 6) -> None:
    """Runs the worker until webhooks (delivered in the background by both sandboxes) stop coming."""
    for _ in range(rounds):
        before = await InboxEvent.count()
        await stack.drain()
        for _ in range(30):  # give background deliveries their moment
            await asyncio.sleep(0.01)
        if await InboxEvent.count() == before and not await stack.drain():
            return


async def shopify_graphql(
    stack: Stack, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    token = (await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")).json()["access_token"]
    answer = await stack.shopify.post(
        f"/shops/{SHOP}/admin/api/2026-10/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token},
    )
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


async def crm_product(stack: Stack, variant_gid: str = T_SHIRT_GID) -> dict[str, Any]:
    products = (await stack.crm.get("/_sandbox/products")).json()["data"]
    return dict(next(p for p in products if p["external_id"] == variant_gid))


async def crm_writes(stack: Stack) -> dict[str, int]:
    counts: dict[str, int] = (await stack.crm.get("/_sandbox/writes")).json()
    return counts


async def user_id(stack: Stack) -> str:
    return await crm_user_id(stack)


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


VARIANT_PRICE = "query($id: ID!) { productVariant(id: $id) { price sku } }"


async def shopify_price(stack: Stack) -> str:
    data = await shopify_graphql(stack, VARIANT_PRICE, {"id": T_SHIRT_GID})
    return str(data["productVariant"]["price"])


async def edit_in_crm(stack: Stack, **changes: object) -> None:
    product = await crm_product(stack)
    path = f"/_sandbox/users/{await user_id(stack)}/products/{product['id']}"
    edited = await stack.crm.put(path, json=changes)
    assert edited.status_code == 200, edited.text
    await settle(stack)


# The collections the seed puts a best-selling apparel item under 30 in.
T_SHIRT_COLLECTIONS = ["Apparel", "Best sellers", "Home page", "Under 30"]


async def hold_shopify_webhooks(stack: Stack) -> None:
    """The Shopify sandbox keeps the next webhooks to itself (an out-of-order fault never
    completed): the app hears of what happens next only from what the test delivers."""
    held = await stack.shopify.post(
        "/_sandbox/faults",
        json={"kind": "webhook_out_of_order", "shop": SHOP, "path": "webhooks", "count": 1000},
    )
    assert held.status_code == 201, held.text


LIVE_PAGE = "/p/summer-tees/"  # complete_wizard's subdomain, as the page service serves it


async def live_page_prices(stack: Stack) -> list[str]:
    """The prices the live page shows, in order (the page service's offer blocks)."""
    answer = await stack.templates.get(LIVE_PAGE)
    assert answer.status_code == 200, answer.text
    return re.findall(r'class="offer-price">([^<]+)<', answer.text)


async def change_price_unheard(stack: Stack, price: str) -> None:
    """The T-shirt's price changes in Shopify and the app hears nothing of it (the webhook is
    held back, as when Shopify gave up delivering)."""
    await hold_shopify_webhooks(stack)
    edited = await stack.shopify.put(
        f"/_sandbox/shops/{SHOP}/products/{T_SHIRT_PRODUCT}/variants/{T_SHIRT_VARIANT}", json={"price": price}
    )
    assert edited.status_code == 200, edited.text
    await settle(stack)
    assert (await crm_product(stack))["price"] != price
