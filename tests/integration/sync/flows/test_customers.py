"""Customers both ways (Keep Orders Synchronized, seeds/003): each crosses once, echoes and repeats cost
no call, a refusal is explained and retried, a customer with a pending CRM order is kept."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import pytest

from connectors.crm import CrmUser
from connectors.crm_webhooks import crm_signature
from connectors.errors import Rejected
from connectors.shopify import GraphQLResult
from jobqueue.tables import InboxEvent, Job
from onboarding.settings import DEVELOPMENT_CRM_SECRET
from sync import links
from sync.context import SyncContext
from sync.customer_mapping import customer_from_crm
from sync.flows import customers as customer_flows
from sync.shopify_documents import CUSTOMER_UPDATE
from sync.tables import SyncEntity
from tests.support.admin_area import signed_in_admin
from tests.support.app import asgi_client
from tests.support.documented_payloads import as_shopify_sends_customer
from tests.support.funnel_wizard import post_form
from tests.support.live_funnel import (
    ADDRESS,
    crm_customers,
    crm_writes,
    funnel_of,
    hold_shopify_webhooks,
    settle,
    shopify_graphql,
    shopify_writes,
    user_id,
)
from tests.support.shops import SHOP, post_webhook
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

    # A late copy of the customer as it was a second before the last sync: nothing to read.
    late = event["payload"] | {"updated_at": a_second_earlier(event["payload"]["updated_at"])}
    again = await stack.shopify.post(
        "/_sandbox/webhooks/trigger", json={"shop": SHOP, "topic": "customers/update", "payload": late}
    )
    assert again.status_code == 202, again.text
    await settle(stack)
    assert await points_spent(stack) == spent
    assert await crm_writes(stack) == crm_before

    # The same second again may hide an edit made in that second (Shopify's times have whole
    # seconds): it is read from Shopify, and as nothing changed the CRM is not written.
    repeat = await stack.shopify.post(
        "/_sandbox/webhooks/trigger",
        json={"shop": SHOP, "topic": "customers/update", "payload": event["payload"]},
    )
    assert repeat.status_code == 202, repeat.text
    await settle(stack)
    assert await points_spent(stack) > spent
    assert await crm_writes(stack) == crm_before
    spent = await points_spent(stack)

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


def a_second_earlier(shopify_time_text: str) -> str:
    return (datetime.fromisoformat(shopify_time_text) - timedelta(seconds=1)).isoformat()


async def deliver_as_shopify_sends(stack: Stack, topic: str, customer: dict[str, Any]) -> None:
    delivered = await post_webhook(stack.client, topic, as_shopify_sends_customer(customer), shop_domain=SHOP)
    assert delivered.status_code == 200, delivered.text
    await settle(stack)


async def test_a_customer_event_as_shopify_sends_it_now_costs_no_shopify_query_when_nothing_changed(
    stack: Stack,
) -> None:
    created = await shopify_customer(
        stack,
        {
            "firstName": "Noa",
            "lastName": "Levi",
            "email": "noa@example.com",
            "tags": ["vip"],
            "emailMarketingConsent": {"marketingState": "SUBSCRIBED"},
        },
    )
    spent, crm_before = await points_spent(stack), await crm_writes(stack)

    # A late copy of the customer, without the tags and consent Shopify no longer sends.
    late = created | {"updated_at": a_second_earlier(created["updated_at"])}
    await deliver_as_shopify_sends(stack, "customers/update", late)

    assert await points_spent(stack) == spent
    assert await crm_writes(stack) == crm_before
    (customer,) = await crm_customers(stack)
    assert (customer["tags"], customer["accepts_marketing"]) == (["vip"], True)


async def test_a_change_of_tags_alone_still_reaches_the_crm(stack: Stack) -> None:
    created = await shopify_customer(
        stack, {"firstName": "Ida", "lastName": "Berg", "email": "ida@example.com", "tags": ["vip"]}
    )
    # Shopify tells of a tags edit with a payload holding no tags: only its updated_at moved, or
    # not even that when the edit came within the same second as the customer's creation.
    await hold_shopify_webhooks(stack)
    edited = await shopify_graphql(
        stack,
        CUSTOMER_UPDATE,
        {"input": {"id": created["admin_graphql_api_id"], "tags": ["vip", "gold"]}},
    )
    assert edited["customerUpdate"]["userErrors"] == []
    now = (await stack.shopify.get(f"/_sandbox/shops/{SHOP}/customers/{created['id']}")).json()
    await deliver_as_shopify_sends(stack, "customers/update", now)

    (customer,) = await crm_customers(stack)
    assert customer["tags"] == ["gold", "vip"]


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
    retry_path = re.search(r'action="(/funnels/\d+/sync/failures/\d+/retry)"', page.text)
    assert retry_path, page.text
    retried = await post_form(stack, retry_path[1])
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


# -- A customer whose create was applied but whose answer was lost is found again, either way.  When
# one side refuses to create a customer because the email is taken, the customer holding it there is
# this very one if it is unlinked with exactly this content (our own create whose answer never came
# back) or already linked to this customer; anyone else stays refused.


SHOPIFY_ID = "gid://shopify/Customer/71"
EMAIL_TAKEN = {"email": "A customer with this email already exists."}
CRM_ANN: dict[str, Any] = {
    "id": "cus_1",
    "first_name": "Ann",
    "last_name": "Lee",
    "email": "ann@example.com",
    "phone": None,
    "shipping_phone": None,
    "accepts_marketing": False,
    "tags": [],
    "address": None,
}
SHOPIFY_ANN: dict[str, Any] = {
    "id": SHOPIFY_ID,
    "firstName": "Ann",
    "lastName": "Lee",
    "email": "ann@example.com",
    "phone": None,
    "tags": [],
    "emailMarketingConsent": {"marketingState": "NOT_SUBSCRIBED"},
    "defaultAddress": None,
}


@dataclass
class CrmRefusingTheEmail:
    """The CRM holding `customers` and refusing to create another with their email."""

    customers: list[dict[str, Any]]

    async def get(self, path: str) -> dict[str, Any] | None:
        return next((c for c in self.customers if path.endswith(f"/{c['id']}")), None)

    async def upsert_customer(self, customer: dict[str, Any]) -> dict[str, Any]:
        raise Rejected("CRM", "email taken", status_code=422, fields=EMAIL_TAKEN)

    async def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        email = kwargs["params"]["email"]
        return {"data": [c for c in self.customers if c["email"] == email]}


@dataclass
class ShopifyRefusingTheEmail:
    """Shopify holding `customers` and refusing customerCreate for their email."""

    customers: list[dict[str, Any]]
    linked_meanwhile: bool = False  # another job of this customer makes and links it first
    queries: list[dict[str, Any]] = field(default_factory=list)

    async def mutate(self, mutation: str, variables: dict[str, Any], root: str) -> dict[str, Any]:
        assert root == "customerCreate"
        if self.linked_meanwhile:
            await links.save(SHOP, SyncEntity.CUSTOMER, shopify_id=SHOPIFY_ID, crm_id="cus_1", canonical={})
        raise Rejected("Shopify", "Email has already been taken", fields=EMAIL_TAKEN)

    async def graphql(self, query: str, variables: dict[str, Any]) -> GraphQLResult:
        self.queries.append(variables)
        return GraphQLResult({"customers": {"nodes": self.customers}}, {})


@dataclass
class Clients:
    shopify: ShopifyRefusingTheEmail

    async def shopify_for(self, shop_domain: str) -> ShopifyRefusingTheEmail:
        return self.shopify


def context(shopify: ShopifyRefusingTheEmail) -> SyncContext:
    return cast(SyncContext, type("Ctx", (), {"clients": Clients(shopify)})())


async def test_the_crm_customer_our_lost_create_made_is_linked_instead_of_refused(database: None) -> None:
    crm = CrmRefusingTheEmail([CRM_ANN])

    found = await customer_flows.crm_customer(
        cast(CrmUser, crm), SHOP, SHOPIFY_ID, customer_from_crm(CRM_ANN)
    )

    assert found == ("cus_1", False)
    link = await links.by_shopify_id(SHOP, SyncEntity.CUSTOMER, SHOPIFY_ID)
    assert link is not None
    assert link.crm_id == "cus_1"


async def test_another_crm_customer_with_the_email_stays_refused(database: None) -> None:
    crm = CrmRefusingTheEmail([{**CRM_ANN, "last_name": "Someone-Else"}])

    with pytest.raises(Rejected):
        await customer_flows.crm_customer(cast(CrmUser, crm), SHOP, SHOPIFY_ID, customer_from_crm(CRM_ANN))
    assert await links.by_shopify_id(SHOP, SyncEntity.CUSTOMER, SHOPIFY_ID) is None


async def test_the_shopify_customer_our_lost_create_made_is_linked_instead_of_refused(database: None) -> None:
    shopify = ShopifyRefusingTheEmail([SHOPIFY_ANN])

    assert await customer_flows.shopify_customer(context(shopify), SHOP, CRM_ANN) == SHOPIFY_ID

    assert shopify.queries == [{"query": 'email:"ann@example.com"'}]
    link = await links.by_crm_id(SHOP, SyncEntity.CUSTOMER, "cus_1")
    assert link is not None
    assert link.shopify_id == SHOPIFY_ID


async def test_a_shopify_customer_already_linked_to_this_one_is_found_whatever_it_holds(
    database: None,
) -> None:
    shopify = ShopifyRefusingTheEmail([{**SHOPIFY_ANN, "lastName": "Edited-Since"}], linked_meanwhile=True)

    assert await customer_flows.shopify_customer(context(shopify), SHOP, CRM_ANN) == SHOPIFY_ID


async def test_another_shopify_customer_with_the_email_stays_refused(database: None) -> None:
    other = {**SHOPIFY_ANN, "id": "gid://shopify/Customer/99", "lastName": "Someone-Else"}

    with pytest.raises(Rejected):
        await customer_flows.shopify_customer(context(ShopifyRefusingTheEmail([other])), SHOP, CRM_ANN)
    assert await links.by_crm_id(SHOP, SyncEntity.CUSTOMER, "cus_1") is None


async def test_a_customers_delete_for_a_customer_shopify_still_holds_deletes_nothing(stack: Stack) -> None:
    """The HMAC covers the body only: a captured customers/update re-sent as customers/delete
    passes the intake, and must not delete the customer in the CRM while Shopify holds them."""
    created = await shopify_customer(
        stack, {"firstName": "Lin", "lastName": "Wu", "email": "lin@example.com", "addresses": [ADDRESS]}
    )
    before, writes = await crm_customers(stack), await crm_writes(stack)
    assert [customer["email"] for customer in before] == ["lin@example.com"]
    replayed = await post_webhook(
        stack.client, "customers/delete", created, shop_domain=SHOP, webhook_id="replayed-as-delete"
    )
    assert replayed.status_code == 200, replayed.text
    await settle(stack)
    handled = await InboxEvent.select(InboxEvent.status).where(
        InboxEvent.delivery_key.like("%replayed-as-delete")
    )
    assert handled == [{"status": "processed"}]
    assert await crm_customers(stack) == before
    assert await crm_writes(stack) == writes
