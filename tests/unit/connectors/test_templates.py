"""The page service's client (connectors/templates.py): the live-page fetch (the publish saga's
last check) reaches only the service's own origin and follows no redirect; the page content is
the documented structure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from connectors.errors import Rejected
from connectors.templates import OfferBlock, PageContent, PageImage, TemplatesClient

SERVICE = "http://templates.test"


def client_answering(requested: list[str]) -> TemplatesClient:
    def answer(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        if request.url.host != "templates.test":
            return httpx.Response(200, text="elsewhere")
        if request.url.path == "/p/moved/":
            return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data/"})
        return httpx.Response(200, text="the funnel page")

    return TemplatesClient(
        base_url=SERVICE,
        client_id="app",
        client_secret="secret",
        signing_key=ECKey.generate_key("P-256"),
        transport=httpx.MockTransport(answer),
    )


async def test_the_page_on_the_service_is_fetched() -> None:
    requested: list[str] = []
    assert await client_answering(requested).fetch_page(f"{SERVICE}/p/shop/") == (200, "the funnel page")
    assert requested == [f"{SERVICE}/p/shop/"]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://templates.test/p/shop/",
        "http://templates.test:8080/p/shop/",
        "http://templates.test.evil.example/p/shop/",
        "not a url at all",
    ],
)
async def test_an_address_off_the_service_is_not_fetched(url: str) -> None:
    requested: list[str] = []
    with pytest.raises(Rejected):
        await client_answering(requested).fetch_page(url)
    assert requested == []


async def test_a_redirect_is_not_followed() -> None:
    requested: list[str] = []
    status, _ = await client_answering(requested).fetch_page(f"{SERVICE}/p/moved/")
    assert status == 302
    assert requested == [f"{SERVICE}/p/moved/"]


def offer(original: str, price: str, **changes: object) -> OfferBlock:
    fields: dict[str, Any] = {
        "offer_id": "ofr_1",
        "headline": "Add a hoodie",
        "product_title": "Organic Hoodie",
        "variant_title": "M / Grey",
        "image": PageImage("https://cdn.example.com/hoodie.png", "Organic Hoodie"),
        "original_price": Decimal(original),
        "price": Decimal(price),
        "available": True,
        "stock": 4,
        "call_to_action": "Yes, add this to my order",
        **changes,
    }
    return OfferBlock(**fields)


def test_an_offer_block_carries_the_saving_between_its_two_prices_as_exact_decimals() -> None:
    block = offer("56.00", "47.60").as_json()
    assert (block["original_price"], block["price"], block["saving"]) == ("56.00", "47.60", "8.40")
    assert block["image"] == {"url": "https://cdn.example.com/hoodie.png", "alt": "Organic Hoodie"}


def test_page_content_is_the_documented_structure_the_page_builder_takes() -> None:
    content = PageContent(
        title="Summer launch",
        headline="Tees for July",
        currency="EUR",
        locale="de-DE",
        crm_campaign_id="cmp_1",
        main_offer=offer("19.99", "19.99", headline="", image=None),
        upsells=(offer("56.00", "47.60"),),
    ).as_json()
    assert set(content) == {
        "title",
        "headline",
        "currency",
        "locale",
        "crm_campaign_id",
        "main_offer",
        "upsells",
        "downsell",
    }
    assert content["downsell"] is None  # no downsell: the page builder's null
    assert content["main_offer"]["saving"] == "0.00"
    assert content["main_offer"]["image"] is None
    assert [upsell["price"] for upsell in content["upsells"]] == ["47.60"]


def test_a_downsell_is_its_own_offer_block_in_the_page_content() -> None:
    content = PageContent(
        title="Summer launch",
        headline="",
        currency="USD",
        locale="en-US",
        crm_campaign_id="cmp_1",
        main_offer=offer("19.99", "19.99"),
        upsells=(offer("56.00", "47.60"),),
        downsell=offer("56.00", "39.20"),
    ).as_json()
    assert content["downsell"]["price"] == "39.20"
    assert content["downsell"]["saving"] == "16.80"
