"""A customer whose create was applied but whose answer was lost is found again, either way.

When one side refuses to create a customer because the email is taken, the customer holding
it there is this very one if it is unlinked with exactly this content (our own create whose
answer never came back) or already linked to this customer; anyone else stays refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from litestar import Litestar

from connectors.crm import CrmUser
from connectors.errors import Rejected
from connectors.shopify import GraphQLResult
from sync import links
from sync.context import SyncContext
from sync.customer_mapping import customer_from_crm
from sync.flows.customers import crm_customer, shopify_customer
from sync.tables import SyncEntity
from tests.conftest import lifespan_of

SHOP = "demo-store.myshopify.com"
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


@pytest.fixture
async def database(app: Litestar) -> AsyncIterator[None]:
    async with lifespan_of(app):
        yield


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

    found = await crm_customer(cast(CrmUser, crm), SHOP, SHOPIFY_ID, customer_from_crm(CRM_ANN))

    assert found == ("cus_1", False)
    link = await links.by_shopify_id(SHOP, SyncEntity.CUSTOMER, SHOPIFY_ID)
    assert link is not None
    assert link.crm_id == "cus_1"


async def test_another_crm_customer_with_the_email_stays_refused(database: None) -> None:
    crm = CrmRefusingTheEmail([{**CRM_ANN, "last_name": "Someone-Else"}])

    with pytest.raises(Rejected):
        await crm_customer(cast(CrmUser, crm), SHOP, SHOPIFY_ID, customer_from_crm(CRM_ANN))
    assert await links.by_shopify_id(SHOP, SyncEntity.CUSTOMER, SHOPIFY_ID) is None


async def test_the_shopify_customer_our_lost_create_made_is_linked_instead_of_refused(database: None) -> None:
    shopify = ShopifyRefusingTheEmail([SHOPIFY_ANN])

    assert await shopify_customer(context(shopify), SHOP, CRM_ANN) == SHOPIFY_ID

    assert shopify.queries == [{"query": 'email:"ann@example.com"'}]
    link = await links.by_crm_id(SHOP, SyncEntity.CUSTOMER, "cus_1")
    assert link is not None
    assert link.shopify_id == SHOPIFY_ID


async def test_a_shopify_customer_already_linked_to_this_one_is_found_whatever_it_holds(
    database: None,
) -> None:
    shopify = ShopifyRefusingTheEmail([{**SHOPIFY_ANN, "lastName": "Edited-Since"}], linked_meanwhile=True)

    assert await shopify_customer(context(shopify), SHOP, CRM_ANN) == SHOPIFY_ID


async def test_another_shopify_customer_with_the_email_stays_refused(database: None) -> None:
    other = {**SHOPIFY_ANN, "id": "gid://shopify/Customer/99", "lastName": "Someone-Else"}

    with pytest.raises(Rejected):
        await shopify_customer(context(ShopifyRefusingTheEmail([other])), SHOP, CRM_ANN)
    assert await links.by_crm_id(SHOP, SyncEntity.CUSTOMER, "cus_1") is None
