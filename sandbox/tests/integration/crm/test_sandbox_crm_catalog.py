"""CRM merchant API: products, campaigns and offers, through the merchant's user token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sandbox.tests.integration.crm.sandbox_crm_support import (
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


def product_body(n: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "external_id": f"gid://shopify/ProductVariant/{n}",
        "product_external_id": "gid://shopify/Product/100",
        "sku": f"MUG-{n}",
        "name": "Coffee mug - Blue / Large",
        "price": "20.00",
        "currency": "USD",
        "image_url": "https://cdn.example.com/mug.png",
        "weight": 0.4,
        "weight_unit": "kg",
        "barcode": None,
        "options": {"Color": "Blue", "Size": "Large"},
        "active": True,
        "stock": 12,
        "vendor": "Acme",
        "url": "https://acme.example.com/products/mug",
        "collections": ["Kitchen", "Gifts"],
        **overrides,
    }


def campaign_body(**overrides: Any) -> dict[str, Any]:
    return {
        "external_id": "funnel-1",
        "name": "Spring mugs",
        "description": "Our spring funnel.",
        "currency": "USD",
        "country": "US",
        **overrides,
    }


def offer_body(product_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "external_id": "funnel-1:main",
        "product_id": product_id,
        "kind": "main",
        "position": 0,
        "headline": "The mug you'll love",
        "discount_type": "none",
        "discount_value": "0",
        **overrides,
    }


async def new_campaign_with_product(merchant: Merchant) -> tuple[dict[str, Any], dict[str, Any]]:
    product = await merchant.created("/api/v1/products", product_body())
    campaign = await merchant.created("/api/v1/campaigns", campaign_body())
    return campaign, product


# -- products ---------------------------------------------------------------------------------


async def test_product_create_answers_the_stored_product_with_a_prd_id(acme: Merchant) -> None:
    response = await acme.post("/api/v1/products", product_body())
    assert response.status_code == 201
    product = response.json()
    assert product["id"].startswith("prd_")
    sent = product_body()
    assert {k: product[k] for k in sent} == sent
    assert product["updated_at"] == product["created_at"]


async def test_product_is_found_by_external_id_and_read_by_id(acme: Merchant) -> None:
    created = await acme.created("/api/v1/products", product_body(1))
    await acme.created("/api/v1/products", product_body(2))
    found = await acme.get("/api/v1/products", external_id="gid://shopify/ProductVariant/1")
    assert found.json() == {"data": [created], "next_cursor": None}
    assert (await acme.get(f"/api/v1/products/{created['id']}")).json() == created


async def test_product_list_pages_with_a_cursor(acme: Merchant) -> None:
    for n in range(3):
        await acme.created("/api/v1/products", product_body(n))
    first = (await acme.get("/api/v1/products", limit="2")).json()
    rest = (await acme.get("/api/v1/products", cursor=first["next_cursor"])).json()
    names = [p["external_id"] for p in first["data"] + rest["data"]]
    assert names == [f"gid://shopify/ProductVariant/{n}" for n in range(3)]
    assert rest["next_cursor"] is None


async def test_product_put_replaces_every_field(crm: Harness, acme: Merchant) -> None:
    created = await acme.created("/api/v1/products", product_body())
    crm.clock.advance(5)
    changed = product_body(price="24.50", options={"Color": "Red"}, stock=None, image_url=None)
    response = await acme.put(f"/api/v1/products/{created['id']}", changed)
    assert response.status_code == 200
    updated = response.json()
    assert {k: updated[k] for k in changed} == changed
    assert updated["updated_at"] > created["updated_at"]
    assert (await acme.get(f"/api/v1/products/{created['id']}")).json() == updated


async def test_product_created_again_is_409_with_the_existing_id_and_one_product(
    crm: Harness, acme: Merchant
) -> None:
    created = await acme.created("/api/v1/products", product_body())
    again = await acme.post("/api/v1/products", product_body(name="Retried"))
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    assert again.json()["existing_id"] == created["id"]
    assert len((await crm.control("GET", "products"))["data"]) == 1
    writes = (await crm.control("GET", "counters"))["writes"]
    assert writes["POST /api/v1/products"]["responses"] == {"201": 1, "409": 1}


@pytest.mark.parametrize("price", ["0", "0.00", "-1", "abc", 19.99, None])
async def test_product_price_must_be_a_decimal_string_above_zero(acme: Merchant, price: object) -> None:
    response = await acme.post("/api/v1/products", product_body(price=price))
    assert list(errors_of(response)) == ["price"]


async def test_product_with_unknown_currency_is_422(acme: Merchant) -> None:
    response = await acme.post("/api/v1/products", product_body(currency="ABC"))
    assert "ISO 4217" in errors_of(response)["currency"]


async def test_product_reports_every_bad_field_at_once(acme: Merchant) -> None:
    body = product_body(name="", image_url="javascript:alert(1)", weight_unit="stone", options=["x"])
    assert set(errors_of(await acme.post("/api/v1/products", body))) == {
        "name",
        "image_url",
        "weight_unit",
        "options",
    }


async def test_product_groups_are_kept_as_sent_and_replaced_by_a_put(acme: Merchant) -> None:
    created = await acme.created("/api/v1/products", product_body())
    assert created["collections"] == ["Kitchen", "Gifts"]
    without = product_body()
    del without["collections"]  # a body from before product groups: it has none
    updated = (await acme.put(f"/api/v1/products/{created['id']}", without)).json()
    assert updated["collections"] == []
    assert (await acme.get(f"/api/v1/products/{created['id']}")).json()["collections"] == []


@pytest.mark.parametrize(
    "collections",
    ["Kitchen", [1], ["Kitchen", None], [""], ["  "], ["x" * 256], ["g"] * 251, {"Kitchen": True}],
)
async def test_product_groups_must_be_a_list_of_titles(acme: Merchant, collections: object) -> None:
    response = await acme.post("/api/v1/products", product_body(collections=collections))
    assert list(errors_of(response)) == ["collections"]


@pytest.mark.parametrize("weight", ["0.4", -1, True])
async def test_product_weight_must_be_a_non_negative_number(acme: Merchant, weight: object) -> None:
    response = await acme.post("/api/v1/products", product_body(weight=weight))
    assert list(errors_of(response)) == ["weight"]


async def test_product_delete_removes_it(acme: Merchant) -> None:
    created = await acme.created("/api/v1/products", product_body())
    assert (await acme.delete(f"/api/v1/products/{created['id']}")).status_code == 204
    assert (await acme.get(f"/api/v1/products/{created['id']}")).status_code == 404


async def test_product_used_by_an_offer_cannot_be_deleted(acme: Merchant) -> None:
    campaign, product = await new_campaign_with_product(acme)
    offer = await acme.created(f"/api/v1/campaigns/{campaign['id']}/offers", offer_body(product["id"]))
    response = await acme.delete(f"/api/v1/products/{product['id']}")
    assert response.status_code == 409
    assert response.json()["error"] == "in_use"
    assert response.json()["offer_ids"] == [offer["id"]]


async def test_another_users_product_is_404_and_not_listed(crm: Harness, acme: Merchant) -> None:
    other = await crm.merchant("other.myshopify.com")
    theirs = await other.created("/api/v1/products", product_body())
    path = f"/api/v1/products/{theirs['id']}"
    assert (await acme.get(path)).status_code == 404
    assert (await acme.put(path, product_body())).status_code == 404
    assert (await acme.delete(path)).status_code == 404
    assert (await acme.get("/api/v1/products")).json()["data"] == []
    # The same external id is free for each user: ids are per user.
    assert (await acme.post("/api/v1/products", product_body())).status_code == 201


async def test_app_token_cannot_call_the_merchant_api(crm: Harness) -> None:
    response = await crm.http.get("/api/v1/campaigns", headers=bearer(await crm.app_token()))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


# -- campaigns --------------------------------------------------------------------------------


async def test_campaign_create_find_get_and_update(crm: Harness, acme: Merchant) -> None:
    created = await acme.created("/api/v1/campaigns", campaign_body())
    assert created["id"].startswith("cmp_")
    assert {k: created[k] for k in campaign_body()} == campaign_body()
    found = (await acme.get("/api/v1/campaigns", external_id="funnel-1")).json()
    assert [c["id"] for c in found["data"]] == [created["id"]]
    crm.clock.advance(1)
    changed = campaign_body(name="Summer mugs", currency="EUR", country="DE")
    response = await acme.put(f"/api/v1/campaigns/{created['id']}", changed)
    assert response.status_code == 200
    assert (await acme.get(f"/api/v1/campaigns/{created['id']}")).json() == response.json()
    assert response.json()["name"] == "Summer mugs"
    assert response.json()["updated_at"] > created["updated_at"]


async def test_campaign_created_twice_is_409_and_exactly_one_campaign(crm: Harness, acme: Merchant) -> None:
    created = await acme.created("/api/v1/campaigns", campaign_body())
    again = await acme.post("/api/v1/campaigns", campaign_body())
    assert again.status_code == 409
    assert again.json()["existing_id"] == created["id"]
    assert [c["id"] for c in (await crm.control("GET", "campaigns"))["data"]] == [created["id"]]
    writes = (await crm.control("GET", "counters"))["writes"]
    assert writes["POST /api/v1/campaigns"] == {"requests": 2, "responses": {"201": 1, "409": 1}}


async def test_campaign_write_behind_a_500_fault_is_not_made(crm: Harness, acme: Merchant) -> None:
    await crm.control("POST", "faults", json={"kind": "http_500", "path_prefix": "/api/v1/campaigns"})
    assert (await acme.post("/api/v1/campaigns", campaign_body())).status_code == 500
    assert (await acme.post("/api/v1/campaigns", campaign_body())).status_code == 201
    assert len((await crm.control("GET", "campaigns"))["data"]) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currency", "XYZ"),
        ("currency", "usd"),
        ("country", "XX"),
        ("country", "USA"),
        ("name", ""),
        ("name", "n" * 121),
        ("description", "d" * 2001),
    ],
)
async def test_invalid_campaign_field_is_422(acme: Merchant, field: str, value: str) -> None:
    response = await acme.post("/api/v1/campaigns", campaign_body(**{field: value}))
    assert list(errors_of(response)) == [field]


async def test_another_users_campaign_is_404(crm: Harness, acme: Merchant) -> None:
    other = await crm.merchant("other.myshopify.com")
    theirs = await other.created("/api/v1/campaigns", campaign_body())
    assert (await acme.get(f"/api/v1/campaigns/{theirs['id']}")).status_code == 404
    assert (await acme.put(f"/api/v1/campaigns/{theirs['id']}", campaign_body())).status_code == 404
    assert (await acme.get(f"/api/v1/campaigns/{theirs['id']}/offers")).status_code == 404


# -- offers -----------------------------------------------------------------------------------


async def test_main_offer_and_upsells_are_created_listed_and_priced(acme: Merchant) -> None:
    campaign, product = await new_campaign_with_product(acme)
    upsell_product = await acme.created("/api/v1/products", product_body(2, price="10.00"))
    offers = f"/api/v1/campaigns/{campaign['id']}/offers"
    main = await acme.created(offers, offer_body(product["id"]))
    upsell = await acme.created(
        offers,
        offer_body(
            upsell_product["id"],
            external_id="funnel-1:upsell-1",
            kind="upsell",
            position=1,
            discount_type="percentage",
            discount_value="15",
        ),
    )
    assert main["id"].startswith("ofr_")
    assert (main["kind"], main["price"], main["currency"]) == ("main", "20.00", "USD")
    assert (upsell["kind"], upsell["price"]) == ("upsell", "8.50")
    listed = (await acme.get(offers)).json()
    assert [o["id"] for o in listed["data"]] == [main["id"], upsell["id"]]
    assert (await acme.get(offers, external_id="funnel-1:upsell-1")).json()["data"] == [upsell]


async def test_offer_put_updates_and_delete_removes(acme: Merchant) -> None:
    campaign, product = await new_campaign_with_product(acme)
    offers = f"/api/v1/campaigns/{campaign['id']}/offers"
    offer = await acme.created(offers, offer_body(product["id"]))
    changed = offer_body(
        product["id"], headline="Now cheaper", discount_type="fixed_amount", discount_value="5"
    )
    response = await acme.put(f"{offers}/{offer['id']}", changed)
    assert response.status_code == 200
    assert (response.json()["headline"], response.json()["price"]) == ("Now cheaper", "15.00")
    assert (await acme.delete(f"{offers}/{offer['id']}")).status_code == 204
    assert (await acme.get(offers)).json()["data"] == []


async def test_second_main_offer_is_422(acme: Merchant) -> None:
    campaign, product = await new_campaign_with_product(acme)
    offers = f"/api/v1/campaigns/{campaign['id']}/offers"
    main = await acme.created(offers, offer_body(product["id"]))
    second = await acme.post(offers, offer_body(product["id"], external_id="funnel-1:main-2"))
    assert main["id"] in errors_of(second)["kind"]
    upsell = await acme.created(offers, offer_body(product["id"], external_id="u", kind="upsell"))
    promoted = await acme.put(f"{offers}/{upsell['id']}", offer_body(product["id"], external_id="u"))
    assert list(errors_of(promoted)) == ["kind"]


@pytest.mark.parametrize(
    ("discount_type", "value"),
    [
        ("percentage", "150"),
        ("fixed_amount", "25.00"),  # above the 20.00 price
        ("fixed_amount", "20.00"),  # equal to it
        ("none", "5"),
        ("percentage", "-5"),
    ],
)
async def test_discount_out_of_range_is_422(acme: Merchant, discount_type: str, value: str) -> None:
    campaign, product = await new_campaign_with_product(acme)
    body = offer_body(product["id"], discount_type=discount_type, discount_value=value)
    response = await acme.post(f"/api/v1/campaigns/{campaign['id']}/offers", body)
    assert list(errors_of(response)) == ["discount_value"]


async def test_offer_with_another_users_product_is_422(crm: Harness, acme: Merchant) -> None:
    other = await crm.merchant("other.myshopify.com")
    theirs = await other.created("/api/v1/products", product_body())
    campaign = await acme.created("/api/v1/campaigns", campaign_body())
    response = await acme.post(f"/api/v1/campaigns/{campaign['id']}/offers", offer_body(theirs["id"]))
    assert list(errors_of(response)) == ["product_id"]


async def test_offer_created_again_is_409_with_the_existing_id(crm: Harness, acme: Merchant) -> None:
    campaign, product = await new_campaign_with_product(acme)
    offers = f"/api/v1/campaigns/{campaign['id']}/offers"
    offer = await acme.created(offers, offer_body(product["id"]))
    again = await acme.post(offers, offer_body(product["id"]))
    assert again.status_code == 409
    assert again.json()["existing_id"] == offer["id"]
    listed = (await crm.control("GET", "campaigns"))["data"]
    assert [o["id"] for o in listed[0]["offers"]] == [offer["id"]]
