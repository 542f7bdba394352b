"""CRM orders and fulfillments API, funnel orders placed through the control API, and the
write counts that prove no effect happened twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.common.clock import ManualClock
from sandbox.tests.integration.crm.sandbox_crm_sales_support import (
    customer_body,
    new_customer,
    order_body,
    product_body,
    shipping_address,
)
from sandbox.tests.integration.crm.sandbox_crm_support import (
    AppKey,
    Harness,
    Merchant,
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


@pytest.fixture
async def customer(acme: Merchant) -> dict[str, Any]:
    return await new_customer(acme)


async def test_order_create_computes_the_total_and_answers_every_field(
    acme: Merchant, customer: dict[str, Any]
) -> None:
    product = await acme.created("/api/v1/products", product_body())
    campaign = await acme.created(
        "/api/v1/campaigns", {"external_id": "f1", "name": "Funnel", "currency": "USD", "country": "US"}
    )
    items = [
        {"product_id": product["id"], "name": "Coffee mug", "sku": "MUG-1", "quantity": 3, "price": "19.99"},
        {"product_id": None, "name": "Gift wrap", "sku": "", "quantity": 1, "price": "2.5"},
    ]
    sent = order_body(customer["id"], items=items, campaign_id=campaign["id"])
    response = await acme.post("/api/v1/orders", sent)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["id"].startswith("ord_")
    assert {k: order[k] for k in sent} == sent
    assert order["total"] == "62.47"
    assert order["shipping_address"]["address"] == "1 Main St||Apt 4"
    assert (await acme.get(f"/api/v1/orders/{order['id']}")).json() == order


async def test_order_defaults_pending_source_crm_and_catalog_lines_default_to_the_product(
    acme: Merchant, customer: dict[str, Any]
) -> None:
    product = await acme.created("/api/v1/products", product_body())
    body = {
        "external_id": "o-1",
        "customer_id": customer["id"],
        "currency": "USD",
        "items": [{"product_id": product["id"], "quantity": 2}],
    }
    order = await acme.created("/api/v1/orders", body)
    assert order["status"] == "pending"
    assert order["source"] == "crm"
    assert order["shipping_address"] is None
    assert order["operator_comment"] is None
    assert order["items"] == [
        {"product_id": product["id"], "name": "Coffee mug", "sku": "MUG-1", "quantity": 2, "price": "20.00"}
    ]
    assert order["total"] == "40.00"


async def test_custom_line_items_never_enter_the_catalog(
    crm: Harness, acme: Merchant, customer: dict[str, Any]
) -> None:
    items = [
        {"product_id": None, "name": "Engraving", "sku": "ENG", "quantity": 1, "price": "5.00"},
        {"product_id": None, "name": "Gift wrap", "sku": "", "quantity": 1, "price": "2.00"},
    ]
    order = await acme.created("/api/v1/orders", order_body(customer["id"], items=items))
    assert [i["product_id"] for i in order["items"]] == [None, None]
    assert (await acme.get("/api/v1/products")).json()["data"] == []
    assert (await crm.control("GET", "products"))["data"] == []


async def test_orders_are_listed_by_external_id_customer_and_status(
    acme: Merchant, customer: dict[str, Any]
) -> None:
    first = await acme.created("/api/v1/orders", order_body(customer["id"], 1, status="pending"))
    second = await acme.created("/api/v1/orders", order_body(customer["id"], 2, status="paid"))
    by_external = (await acme.get("/api/v1/orders", external_id="gid://shopify/Order/2")).json()
    assert by_external == {"data": [second], "next_cursor": None}
    by_status = (await acme.get("/api/v1/orders", status="pending")).json()["data"]
    assert [o["id"] for o in by_status] == [first["id"]]
    by_customer = (await acme.get("/api/v1/orders", customer_id=customer["id"], limit="1")).json()
    assert [o["id"] for o in by_customer["data"]] == [first["id"]]
    assert by_customer["next_cursor"] is not None


async def test_order_put_replaces_and_delete_cancels(
    crm: Harness, acme: Merchant, customer: dict[str, Any]
) -> None:
    order = await acme.created("/api/v1/orders", order_body(customer["id"]))
    crm.clock.advance(3)
    changed = order_body(customer["id"], operator_comment="Call first", status="pending")
    updated = await acme.put(f"/api/v1/orders/{order['id']}", changed)
    assert updated.status_code == 200, updated.text
    assert updated.json()["operator_comment"] == "Call first"
    assert updated.json()["updated_at"] > order["updated_at"]
    cancelled = await acme.delete(f"/api/v1/orders/{order['id']}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = await acme.delete(f"/api/v1/orders/{order['id']}")
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    assert (await acme.get(f"/api/v1/orders/{order['id']}")).json()["status"] == "cancelled"


async def test_incomplete_delivery_address_names_each_missing_field(
    acme: Merchant, customer: dict[str, Any]
) -> None:
    address = shipping_address(first_name="", last_name=None, address="  ", city=None, postal_code=None)
    errors = errors_of(
        await acme.post("/api/v1/orders", order_body(customer["id"], shipping_address=address))
    )
    missing = ["first_name", "last_name", "address", "city", "postal_code"]
    assert errors == {f"shipping_address.{name}": "Required for the delivery address." for name in missing}


async def test_order_refuses_other_users_records_by_field(
    acme: Merchant, globex: Merchant, customer: dict[str, Any]
) -> None:
    product = await acme.created("/api/v1/products", product_body())
    campaign = await acme.created(
        "/api/v1/campaigns", {"external_id": "f1", "name": "Funnel", "currency": "USD", "country": "US"}
    )
    items = [{"product_id": product["id"], "quantity": 1}]
    body = order_body(customer["id"], items=items, campaign_id=campaign["id"])
    errors = errors_of(await globex.post("/api/v1/orders", body))
    assert set(errors) == {"customer_id", "campaign_id", "items[0].product_id"}


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([], "items"),
        ([{"product_id": None, "name": "X", "quantity": 0, "price": "1.00"}], "items[0].quantity"),
        ([{"product_id": None, "name": "X", "quantity": 1, "price": "0"}], "items[0].price"),
        ([{"product_id": None, "name": "X", "quantity": 1, "price": 1.5}], "items[0].price"),
        ([{"product_id": None, "quantity": 1, "price": "1.00"}], "items[0].name"),
    ],
)
async def test_bad_lines_are_refused_by_field(
    acme: Merchant, customer: dict[str, Any], items: list[dict[str, Any]], field: str
) -> None:
    assert list(errors_of(await acme.post("/api/v1/orders", order_body(customer["id"], items=items)))) == [
        field
    ]


async def test_order_external_id_rules(acme: Merchant, globex: Merchant, customer: dict[str, Any]) -> None:
    order = await acme.created("/api/v1/orders", order_body(customer["id"]))
    again = await acme.post("/api/v1/orders", order_body(customer["id"]))
    assert again.status_code == 409
    assert again.json()["existing_id"] == order["id"]
    theirs = await new_customer(globex, 5)
    taken = await globex.post("/api/v1/orders", order_body(theirs["id"]))
    assert taken.status_code == 409
    assert taken.json() == {
        "error": "external_id_taken",
        "message": "This external id belongs to another store.",
    }


async def test_fulfillment_marks_the_order_fulfilled_and_is_listed(
    acme: Merchant, customer: dict[str, Any]
) -> None:
    order = await acme.created("/api/v1/orders", order_body(customer["id"]))
    body = {"external_id": "gid://shopify/Fulfillment/1", "tracking_number": "1Z999", "carrier": "UPS"}
    fulfillment = await acme.created(f"/api/v1/orders/{order['id']}/fulfillments", body)
    assert fulfillment["id"].startswith("ful_")
    assert {k: fulfillment[k] for k in body} == body
    assert fulfillment["status"] == "success"
    assert fulfillment["order_id"] == order["id"]
    assert (await acme.get(f"/api/v1/orders/{order['id']}")).json()["status"] == "fulfilled"
    listed = (await acme.get(f"/api/v1/orders/{order['id']}/fulfillments")).json()
    assert listed == {"data": [fulfillment], "next_cursor": None}
    again = await acme.post(f"/api/v1/orders/{order['id']}/fulfillments", body)
    assert again.status_code == 409
    assert again.json()["existing_id"] == fulfillment["id"]


async def test_a_pending_fulfillment_ships_the_order_only_once_it_succeeds(
    acme: Merchant, customer: dict[str, Any]
) -> None:
    order = await acme.created("/api/v1/orders", order_body(customer["id"]))
    path = f"/api/v1/orders/{order['id']}/fulfillments"
    pending = await acme.created(path, {"external_id": "gid://shopify/Fulfillment/2", "status": "pending"})
    assert pending["status"] == "pending"
    assert (await acme.get(f"/api/v1/orders/{order['id']}")).json()["status"] == "paid"  # not shipped

    moved = await acme.put(f"{path}/{pending['id']}", {"status": "success", "tracking_number": "1Z9"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["status"], moved.json()["tracking_number"]) == ("success", "1Z9")
    assert (await acme.get(f"/api/v1/orders/{order['id']}")).json()["status"] == "fulfilled"


async def test_a_failed_fulfillment_leaves_the_order_unshipped(
    acme: Merchant, customer: dict[str, Any]
) -> None:
    order = await acme.created("/api/v1/orders", order_body(customer["id"]))
    failed = await acme.created(f"/api/v1/orders/{order['id']}/fulfillments", {"status": "failed"})
    assert failed["status"] == "failed"
    assert (await acme.get(f"/api/v1/orders/{order['id']}")).json()["status"] == "paid"  # not shipped
    unknown = await acme.put(f"/api/v1/orders/{order['id']}/fulfillments/ful_nope", {"status": "success"})
    assert unknown.status_code == 404


async def test_a_cancelled_order_cannot_be_fulfilled(acme: Merchant, customer: dict[str, Any]) -> None:
    order = await acme.created("/api/v1/orders", order_body(customer["id"]))
    await acme.delete(f"/api/v1/orders/{order['id']}")
    refused = await acme.post(f"/api/v1/orders/{order['id']}/fulfillments", {"tracking_number": "1Z"})
    assert refused.status_code == 409
    assert refused.json()["error"] == "order_cancelled"


async def test_another_users_order_is_404_for_fulfillments(
    acme: Merchant, globex: Merchant, customer: dict[str, Any]
) -> None:
    order = await acme.created("/api/v1/orders", order_body(customer["id"]))
    assert (await globex.post(f"/api/v1/orders/{order['id']}/fulfillments", {})).status_code == 404
    assert (await globex.get(f"/api/v1/orders/{order['id']}/fulfillments")).status_code == 404


# -- funnel orders placed in the CRM ----------------------------------------------------------


async def test_funnel_order_creates_the_customer_when_unknown_then_reuses_them_by_email(
    crm: Harness, acme: Merchant
) -> None:
    product = await acme.created("/api/v1/products", product_body())
    campaign = await acme.created(
        "/api/v1/campaigns", {"external_id": "f1", "name": "Funnel", "currency": "EUR", "country": "DE"}
    )
    inline = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "grace@example.com",
        "phone": "+4915112345678",
        "address": {**shipping_address(country_code="DE", city="Berlin", postal_code="10115")},
    }
    body = {
        "customer": inline,
        "items": [{"product_id": product["id"], "quantity": 1}],
        "campaign_id": campaign["id"],
        "operator_comment": "Ordered on the funnel page",
    }
    placed = await crm.control("POST", f"users/{acme.id}/orders", json=body)
    assert placed["customer_created"] is True
    customer, order = placed["customer"], placed["order"]
    assert customer["external_id"] is None
    assert customer["email"] == "grace@example.com"
    assert order["customer_id"] == customer["id"]
    assert order["external_id"] is None
    assert order["source"] == "crm"
    assert order["currency"] == "EUR"
    assert order["campaign_id"] == campaign["id"]
    assert order["operator_comment"] == "Ordered on the funnel page"
    assert order["shipping_address"]["city"] == "Berlin"
    assert order["total"] == "20.00"
    # The app sees both through the API.
    assert (await acme.get(f"/api/v1/customers/{customer['id']}")).status_code == 200
    assert (await acme.get(f"/api/v1/orders/{order['id']}")).json()["customer_id"] == customer["id"]

    second = await crm.control(
        "POST", f"users/{acme.id}/orders", json={**body, "customer": {**inline, "email": "GRACE@example.com"}}
    )
    assert second["customer_created"] is False
    assert second["customer"]["id"] == customer["id"]
    assert len((await crm.control("GET", "customers"))["data"]) == 1
    assert len((await crm.control("GET", f"orders?user_id={acme.id}"))["data"]) == 2


async def test_funnel_order_for_an_existing_customer_id(
    crm: Harness, acme: Merchant, customer: dict[str, Any]
) -> None:
    body = {
        "customer_id": customer["id"],
        "items": [{"product_id": None, "name": "Thing", "quantity": 1, "price": "3.00"}],
    }
    placed = await crm.control("POST", f"users/{acme.id}/orders", json=body)
    assert placed["customer_created"] is False
    assert placed["order"]["currency"] == "USD"
    assert placed["order"]["shipping_address"]["address"] == "1 Main St||Apt 4"


async def test_funnel_order_that_is_invalid_creates_no_customer(crm: Harness, acme: Merchant) -> None:
    body = {"customer": {"email": "new@example.com"}, "items": [{"product_id": None, "quantity": 1}]}
    response = await crm.http.post(f"/_sandbox/users/{acme.id}/orders", json=body)
    assert set(errors_of(response)) == {"items[0].name", "items[0].price"}
    bad_customer = {"customer": {"email": "nope"}, "items": body["items"]}
    assert list(errors_of(await crm.http.post(f"/_sandbox/users/{acme.id}/orders", json=bad_customer))) == [
        "customer.email"
    ]
    assert (await crm.control("GET", "customers"))["data"] == []


async def test_control_edits_and_ships_an_order(
    crm: Harness, acme: Merchant, customer: dict[str, Any]
) -> None:
    order = await acme.created("/api/v1/orders", order_body(customer["id"], status="pending"))
    paid = await crm.control("PUT", f"users/{acme.id}/orders/{order['id']}", json={"status": "paid"})
    assert paid["status"] == "paid"
    assert paid["external_id"] == order["external_id"]
    shipped = await crm.control(
        "POST",
        f"users/{acme.id}/orders/{order['id']}/fulfillments",
        json={"tracking_number": "1Z", "carrier": "DHL"},
    )
    assert shipped["carrier"] == "DHL"
    listed = await crm.control("GET", "orders")
    assert listed["data"][0]["status"] == "fulfilled"
    assert [f["id"] for f in listed["data"][0]["fulfillments"]] == [shipped["id"]]


async def test_control_customer_add_and_partial_edit(crm: Harness, acme: Merchant) -> None:
    added = await crm.control(
        "POST", f"users/{acme.id}/customers", json={"first_name": "Lin", "email": "lin@example.com"}
    )
    assert added["external_id"] is None
    edited = await crm.control("PUT", f"users/{acme.id}/customers/{added['id']}", json={"last_name": "Wu"})
    assert (edited["first_name"], edited["last_name"], edited["email"]) == ("Lin", "Wu", "lin@example.com")
    duplicate = await crm.http.post(f"/_sandbox/users/{acme.id}/customers", json={"email": "LIN@example.com"})
    assert errors_of(duplicate) == {"email": "A customer with this email already exists."}
    linked = await acme.put(f"/api/v1/customers/{added['id']}", customer_body(7, email="lin@example.com"))
    assert linked.json()["external_id"] == "gid://shopify/Customer/7"


async def test_control_product_edit_is_partial(crm: Harness, acme: Merchant) -> None:
    product = await acme.created("/api/v1/products", product_body(stock=3))
    edited = await crm.control(
        "PUT", f"users/{acme.id}/products/{product['id']}", json={"price": "24.00", "stock": 9}
    )
    assert (edited["price"], edited["stock"], edited["name"]) == ("24.00", 9, "Coffee mug")
    invalid = await crm.http.put(f"/_sandbox/users/{acme.id}/products/{product['id']}", json={"price": "-1"})
    assert list(errors_of(invalid)) == ["price"]


async def test_control_on_unknown_user_or_record_is_404(crm: Harness, acme: Merchant) -> None:
    assert (await crm.http.post("/_sandbox/users/usr_nope/customers", json={})).status_code == 404
    assert (await crm.http.put(f"/_sandbox/users/{acme.id}/products/prd_nope", json={})).status_code == 404


# -- write counts -----------------------------------------------------------------------------


async def test_writes_count_successful_api_writes_by_resource_and_action(
    crm: Harness, acme: Merchant
) -> None:
    customer = await new_customer(acme)
    retried = await acme.post("/api/v1/customers", customer_body())
    assert retried.status_code == 409
    order = await acme.created("/api/v1/orders", order_body(customer["id"]))
    await acme.put(f"/api/v1/orders/{order['id']}", order_body(customer["id"], status="pending"))
    await acme.created(f"/api/v1/orders/{order['id']}/fulfillments", {"tracking_number": "1Z"})
    product = await acme.created("/api/v1/products", product_body())
    for price in ("21.00", "22.00", "23.00"):
        await acme.put(f"/api/v1/products/{product['id']}", product_body(price=price))
    await crm.control("POST", f"users/{acme.id}/customers", json={"email": "crm@example.com"})
    writes = await crm.control("GET", "writes")
    assert writes == {
        "customers.create": 1,
        "fulfillments.create": 1,
        "orders.create": 1,
        "orders.update": 1,
        "products.create": 1,
        "products.update": 3,
        "users.create": 1,
    }
    await crm.control("POST", "reset")
    assert await crm.control("GET", "writes") == {}


async def test_customers_orders_fulfillments_and_webhooks_survive_a_restart(tmp_path: Path) -> None:
    state_file, key, clock = tmp_path / "crm.json", AppKey(), ManualClock()
    async with running_crm(state_file=state_file, key=key, clock=clock) as before:
        acme = await before.merchant()
        customer = await new_customer(acme)
        order = await acme.created("/api/v1/orders", order_body(customer["id"]))
        fulfillment = await acme.created(f"/api/v1/orders/{order['id']}/fulfillments", {"carrier": "UPS"})
        webhook = await acme.created(
            "/api/v1/webhooks", {"url": "http://app.test/hook", "topics": ["order.updated"]}
        )
    async with running_crm(state_file=state_file, key=key, clock=clock) as after:
        again = Merchant(after, acme.id, acme.token)
        assert (await again.get(f"/api/v1/customers/{customer['id']}")).json() == customer
        kept = (await again.get(f"/api/v1/orders/{order['id']}")).json()
        assert kept["items"] == order["items"]
        assert kept["shipping_address"] == order["shipping_address"]
        assert kept["status"] == "fulfilled"
        listed = (await again.get(f"/api/v1/orders/{order['id']}/fulfillments")).json()["data"]
        assert listed == [fulfillment]
        assert (await again.get("/api/v1/webhooks")).json()["data"] == [webhook]
