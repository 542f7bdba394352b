"""CRM customers API: CRUD through the merchant's user token and the CRM's documented
rejections (duplicate email or phone, bad email, a phone in another country's format,
another store's external id, deleting a customer with an open order)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sandbox.tests.integration.crm.sandbox_crm_sales_support import (
    customer_body,
    new_customer,
    order_body,
)
from sandbox.tests.integration.crm.sandbox_crm_support import (
    JWT_BEARER,
    Harness,
    Merchant,
    bearer,
    errors_of,
    running_crm,
)


@pytest.fixture
async def crm() -> AsyncIterator[Harness]:
    async with running_crm() as harness:
        yield harness


@pytest.fixture
async def acme(crm: Harness) -> Merchant:
    return await crm.merchant("acme.myshopify.com")


@pytest.fixture
async def globex(crm: Harness) -> Merchant:
    return await crm.merchant("globex.myshopify.com")


async def test_customer_create_answers_every_field_and_keeps_the_address_separator(acme: Merchant) -> None:
    response = await acme.post("/api/v1/customers", customer_body())
    assert response.status_code == 201, response.text
    customer = response.json()
    assert customer["id"].startswith("cus_")
    sent = customer_body()
    assert {k: customer[k] for k in sent} == sent
    assert customer["address"]["address"] == "1 Main St||Apt 4"
    assert customer["updated_at"].endswith("Z")
    assert (await acme.get(f"/api/v1/customers/{customer['id']}")).json() == customer


async def test_customer_optional_fields_default_to_null_and_empty(acme: Merchant) -> None:
    customer = await acme.created("/api/v1/customers", {"external_id": "gid://shopify/Customer/9"})
    assert customer["email"] is None
    assert customer["phone"] is None
    assert customer["address"] is None
    assert customer["tags"] == []
    assert customer["accepts_marketing"] is False


async def test_customers_are_listed_by_external_id_and_email_with_cursor_pages(acme: Merchant) -> None:
    created = [await new_customer(acme, n) for n in range(1, 4)]
    found = await acme.get("/api/v1/customers", external_id="gid://shopify/Customer/2")
    assert found.json() == {"data": [created[1]], "next_cursor": None}
    by_email = await acme.get("/api/v1/customers", email="ADA3@example.com")
    assert [c["id"] for c in by_email.json()["data"]] == [created[2]["id"]]
    first = (await acme.get("/api/v1/customers", limit="2")).json()
    rest = (await acme.get("/api/v1/customers", cursor=first["next_cursor"])).json()
    assert [c["id"] for c in first["data"] + rest["data"]] == [c["id"] for c in created]
    assert rest["next_cursor"] is None


async def test_customer_put_replaces_and_moves_updated_at(crm: Harness, acme: Merchant) -> None:
    created = await new_customer(acme)
    crm.clock.advance(5)
    changed = customer_body(first_name="Augusta", tags=["returning"], address=None, accepts_marketing=False)
    response = await acme.put(f"/api/v1/customers/{created['id']}", changed)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert {k: updated[k] for k in changed} == changed
    assert updated["updated_at"] > created["updated_at"]


async def test_customer_delete_then_it_is_gone(acme: Merchant) -> None:
    created = await new_customer(acme)
    assert (await acme.delete(f"/api/v1/customers/{created['id']}")).status_code == 204
    assert (await acme.get(f"/api/v1/customers/{created['id']}")).status_code == 404


async def test_another_users_customer_is_404(acme: Merchant, globex: Merchant) -> None:
    created = await new_customer(acme)
    assert (await globex.get(f"/api/v1/customers/{created['id']}")).status_code == 404
    assert (await globex.delete(f"/api/v1/customers/{created['id']}")).status_code == 404
    assert (await globex.get("/api/v1/customers")).json()["data"] == []


async def test_customers_need_the_customer_scopes(crm: Harness, acme: Merchant) -> None:
    assertion = crm.assertion_for(acme.id)
    response = await crm.post_token(
        {"grant_type": JWT_BEARER, "assertion": assertion, "scope": "customers:read"}
    )
    assert response.status_code == 200, response.text
    narrow = response.json()["access_token"]
    denied = await crm.http.post("/api/v1/customers", json=customer_body(), headers=bearer(narrow))
    assert denied.status_code == 403
    assert denied.json()["error"] == "insufficient_scope"
    assert (await crm.http.get("/api/v1/customers", headers=bearer(narrow))).status_code == 200


async def test_default_user_token_has_every_sales_scope(crm: Harness, acme: Merchant) -> None:
    scopes = (await crm.control("GET", "tokens"))["data"][-1]["scope"].split()
    for scope in (
        "customers:read",
        "customers:write",
        "orders:read",
        "orders:write",
        "fulfillments:read",
        "fulfillments:write",
    ):
        assert scope in scopes


# -- rejections -------------------------------------------------------------------------------


async def test_duplicate_email_is_refused_on_email_in_any_case(acme: Merchant) -> None:
    await new_customer(acme, 1)
    response = await acme.post("/api/v1/customers", customer_body(2, email="ADA1@Example.com"))
    assert errors_of(response) == {"email": "A customer with this email already exists."}


async def test_duplicate_phone_is_refused_on_phone(acme: Merchant) -> None:
    await new_customer(acme, 1)
    response = await acme.post("/api/v1/customers", customer_body(2, phone="+14155550001"))
    assert errors_of(response) == {"phone": "A customer with this phone number already exists."}


async def test_duplicates_are_per_store(acme: Merchant, globex: Merchant) -> None:
    await new_customer(acme, 1)
    response = await globex.post(
        "/api/v1/customers", customer_body(2, email="ada1@example.com", phone="+14155550001")
    )
    assert response.status_code == 201, response.text


async def test_a_put_may_keep_its_own_email_but_not_take_anothers(acme: Merchant) -> None:
    first = await new_customer(acme, 1)
    second = await new_customer(acme, 2)
    same = await acme.put(f"/api/v1/customers/{first['id']}", customer_body(1, first_name="Still"))
    assert same.status_code == 200, same.text
    taken = await acme.put(f"/api/v1/customers/{second['id']}", customer_body(2, email="ada1@example.com"))
    assert errors_of(taken) == {"email": "A customer with this email already exists."}


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com"])
async def test_invalid_email_is_refused_on_email(acme: Merchant, email: str) -> None:
    assert list(errors_of(await acme.post("/api/v1/customers", customer_body(email=email)))) == ["email"]


@pytest.mark.parametrize("phone", ["4155550001", "+0123456789", "+1 415 555 0001", "+12"])
async def test_phone_must_be_e164(acme: Merchant, phone: str) -> None:
    errors = errors_of(await acme.post("/api/v1/customers", customer_body(phone=phone)))
    assert list(errors) == ["phone"]
    assert "E.164" in errors["phone"]


async def test_phone_must_carry_the_address_countrys_calling_code(acme: Merchant) -> None:
    address = {**customer_body()["address"], "country_code": "GB"}
    response = await acme.post("/api/v1/customers", customer_body(address=address, phone="+14155550001"))
    assert errors_of(response) == {"phone": "The phone number does not match the format of GB."}
    fine = await acme.post("/api/v1/customers", customer_body(address=address, phone="+447700900123"))
    assert fine.status_code == 201, fine.text


async def test_phone_of_a_country_outside_the_table_only_needs_e164(acme: Merchant) -> None:
    address = {**customer_body()["address"], "country_code": "JP"}
    response = await acme.post("/api/v1/customers", customer_body(address=address, phone="+14155550001"))
    assert response.status_code == 201, response.text


async def test_bad_country_code_is_refused_on_the_address_field(acme: Merchant) -> None:
    address = {**customer_body()["address"], "country_code": "USA"}
    assert list(errors_of(await acme.post("/api/v1/customers", customer_body(address=address)))) == [
        "address.country_code"
    ]


async def test_external_id_of_another_store_is_409_external_id_taken(
    acme: Merchant, globex: Merchant
) -> None:
    await new_customer(acme, 1)
    response = await globex.post("/api/v1/customers", customer_body(1, email="other@example.com", phone=None))
    assert response.status_code == 409
    assert response.json() == {
        "error": "external_id_taken",
        "message": "This external id belongs to another store.",
    }
    mine = await new_customer(globex, 2)
    moved = await globex.put(
        f"/api/v1/customers/{mine['id']}", customer_body(1, email="x@example.com", phone=None)
    )
    assert moved.status_code == 409
    assert moved.json()["error"] == "external_id_taken"


async def test_a_retried_create_is_409_conflict_with_the_existing_id_not_a_duplicate_email(
    crm: Harness, acme: Merchant
) -> None:
    created = await new_customer(acme)
    again = await acme.post("/api/v1/customers", customer_body())
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    assert again.json()["existing_id"] == created["id"]
    assert len((await crm.control("GET", "customers"))["data"]) == 1


async def test_field_errors_come_before_conflicts(acme: Merchant) -> None:
    await new_customer(acme)
    assert list(errors_of(await acme.post("/api/v1/customers", customer_body(email="bad")))) == ["email"]


async def test_customer_with_an_open_order_cannot_be_deleted(acme: Merchant) -> None:
    customer = await new_customer(acme)
    order = await acme.created("/api/v1/orders", order_body(customer["id"], status="pending"))
    refused = await acme.delete(f"/api/v1/customers/{customer['id']}")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "customer_has_pending_orders",
        "message": "The customer has a pending order and cannot be deleted.",
    }
    await acme.put(f"/api/v1/orders/{order['id']}", order_body(customer["id"], status="paid"))
    assert (await acme.delete(f"/api/v1/customers/{customer['id']}")).status_code == 409
    shipped = await acme.post(f"/api/v1/orders/{order['id']}/fulfillments", {"tracking_number": "1Z"})
    assert shipped.status_code == 201, shipped.text
    assert (await acme.delete(f"/api/v1/customers/{customer['id']}")).status_code == 204


async def test_customer_whose_orders_are_cancelled_can_be_deleted(acme: Merchant) -> None:
    customer = await new_customer(acme)
    order = await acme.created("/api/v1/orders", order_body(customer["id"]))
    assert (await acme.delete(f"/api/v1/orders/{order['id']}")).status_code == 200
    assert (await acme.delete(f"/api/v1/customers/{customer['id']}")).status_code == 204
