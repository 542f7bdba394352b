"""Clients bound to a shop or a merchant's user: one fresh token and one retry for a 401, no
more; a mutation's userErrors are one error type, never retried."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from connectors.crm import CrmClient, CrmUser
from connectors.errors import Rejected, Unauthorized
from connectors.shopify import ShopifyAdmin, ShopifyClient, UserErrors
from connectors.templates import TemplatesClient, TemplatesUser

SHOP = "a.myshopify.com"
COST = {"requestedQueryCost": 10, "actualQueryCost": 10}


class Tokens:
    """A token source that hands out token-1, token-2, ... and records what it was told."""

    def __init__(self) -> None:
        self.issued = 1
        self.refused: list[str] = []

    async def __call__(self, *, refused_token: str | None = None) -> str:
        if refused_token is not None:
            self.refused.append(refused_token)
            self.issued += 1
        return f"token-{self.issued}"


class Service:
    """Answers requests in turn and keeps each request's credential."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.credentials: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.credentials.append(
            request.headers.get("X-Shopify-Access-Token") or request.headers.get("Authorization", "")
        )
        return self.answers.pop(0)


def graphql_answer(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"data": data, "extensions": {"cost": COST}})


def refused() -> httpx.Response:
    return httpx.Response(401, json={"errors": "[API] Invalid API key or access token"})


def admin_with(service: Service, tokens: Tokens) -> ShopifyAdmin:
    client = ShopifyClient(
        httpx.AsyncClient(transport=httpx.MockTransport(service)),
        shop_base_url="http://shopify.test/shops/{shop}",
        api_version="2026-10",
        client_id="key",
        client_secret="secret",
    )
    return ShopifyAdmin(client, SHOP, tokens)


async def test_a_refused_shopify_token_is_refreshed_once_and_the_call_sent_again() -> None:
    service, tokens = Service(refused(), graphql_answer({"shop": {"name": "Demo"}})), Tokens()
    result = await admin_with(service, tokens).graphql("{ shop { name } }")
    assert result.data == {"shop": {"name": "Demo"}}
    assert service.credentials == ["token-1", "token-2"]
    assert tokens.refused == ["token-1"]


async def test_a_fresh_shopify_token_refused_as_well_is_not_tried_a_third_time() -> None:
    service, tokens = Service(refused(), refused()), Tokens()
    with pytest.raises(Unauthorized):
        await admin_with(service, tokens).graphql("{ shop { name } }")
    assert service.credentials == ["token-1", "token-2"]
    assert tokens.refused == ["token-1"]


# Documents Shopify's Admin schema takes (the autouse check in tests/conftest.py holds every test to it).
CUSTOMER_UPDATE = """
mutation ($input: CustomerInput!) {
  customerUpdate(input: $input) { customer { id } userErrors { field message } }
}
"""
CUSTOMER_CREATE = """
mutation ($input: CustomerInput!) {
  customerCreate(input: $input) { customer { id } userErrors { field message } }
}
"""


async def test_a_mutation_refused_on_401_is_sent_again_with_the_fresh_token() -> None:
    payload: dict[str, Any] = {
        "customerUpdate": {"customer": {"id": "gid://shopify/Customer/1"}, "userErrors": []}
    }
    service, tokens = Service(refused(), graphql_answer(payload)), Tokens()
    answer = await admin_with(service, tokens).mutate(
        CUSTOMER_UPDATE, {"input": {"id": "gid://shopify/Customer/1"}}, "customerUpdate"
    )
    assert answer == payload["customerUpdate"]
    assert service.credentials == ["token-1", "token-2"]


async def test_a_mutations_user_errors_are_one_error_type_and_not_retried() -> None:
    errors = [
        {"field": ["input", "email"], "message": "Email has already been taken"},
        {"field": None, "message": "Customer is invalid"},
    ]
    service = Service(graphql_answer({"customerCreate": {"customer": None, "userErrors": errors}}))
    tokens = Tokens()
    with pytest.raises(UserErrors) as refused_by_shop:
        await admin_with(service, tokens).mutate(
            CUSTOMER_CREATE, {"input": {"email": "ada@example.com"}}, "customerCreate"
        )
    error = refused_by_shop.value
    assert isinstance(error, Rejected)
    assert error.code == "user_errors"
    assert error.fields == {
        "input.email": "Email has already been taken",
        "customerCreate": "Customer is invalid",
    }
    assert error.messages == ["Email has already been taken", "Customer is invalid"]
    assert str(error) == "Shopify: Email has already been taken; Customer is invalid"
    assert len(service.credentials) == 1
    assert tokens.refused == []


KEY = ECKey.generate_key("P-256")


def crm_with(service: Service, tokens: Tokens) -> CrmUser:
    client = CrmClient(
        base_url="http://crm.test",
        client_id="app",
        client_secret="secret",
        signing_key=KEY,
        transport=httpx.MockTransport(service),
    )
    return CrmUser(client, tokens)


async def test_a_refused_crm_token_is_renewed_once_and_the_call_sent_again() -> None:
    processors: dict[str, Any] = {
        "data": [{"id": "pp_1", "name": "Stripe", "kind": "card", "status": "active"}]
    }
    service, tokens = Service(httpx.Response(401), httpx.Response(200, json=processors)), Tokens()
    found = await crm_with(service, tokens).payment_processors()
    assert [processor.id for processor in found] == ["pp_1"]
    assert service.credentials == ["Bearer token-1", "Bearer token-2"]
    assert tokens.refused == ["token-1"]


async def test_a_renewed_crm_token_refused_as_well_goes_to_the_caller() -> None:
    service, tokens = Service(httpx.Response(401), httpx.Response(401)), Tokens()
    with pytest.raises(Unauthorized):
        await crm_with(service, tokens).get("/api/v1/products/1")
    assert service.credentials == ["Bearer token-1", "Bearer token-2"]


async def test_a_crm_refusal_other_than_401_is_not_retried() -> None:
    invalid: dict[str, Any] = {
        "error": "validation_failed",
        "errors": [{"field": "price", "message": "must be positive"}],
    }
    service, tokens = Service(httpx.Response(422, json=invalid)), Tokens()
    with pytest.raises(Rejected, match="price: must be positive"):
        await crm_with(service, tokens).json("POST", "/api/v1/products", json={"price": "-1"})
    assert service.credentials == ["Bearer token-1"]
    assert tokens.refused == []


async def test_the_template_service_bound_to_a_user_renews_a_refused_token_too() -> None:
    service = Service(httpx.Response(401), httpx.Response(200, json={"name": "shop", "available": True}))
    tokens = Tokens()
    client = TemplatesClient(
        base_url="http://templates.test",
        client_id="app",
        client_secret="secret",
        signing_key=KEY,
        transport=httpx.MockTransport(service),
    )
    check = await TemplatesUser(client, tokens).check_subdomain("shop")
    assert check.available
    assert service.credentials == ["Bearer token-1", "Bearer token-2"]
