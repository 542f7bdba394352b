"""The start page, health check and the control API's shop listing."""

from __future__ import annotations

import hashlib
import hmac
import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import httpx

from sandbox.shopify.seed import FIRST_ID
from sandbox.tests.integration.shopify.shopify_sandbox_support import MAIN_SHOP, SECRET, FakeClock

SHOPS = {
    "demo-store.myshopify.com": "Standard",
    "demo-advanced.myshopify.com": "Advanced",
    "demo-plus.myshopify.com": "Plus",
    "demo-enterprise.myshopify.com": "Enterprise",
}


def install_hmac_ok(url: str) -> bool:
    params = dict(parse_qsl(urlsplit(url).query))
    received = params.pop("hmac")
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    expected = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received)


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_start_page_lists_every_demo_store_with_tier_and_counts(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for domain, tier in SHOPS.items():
        assert domain in page
        assert tier in page
    assert re.search(r"3\d products, 1\d\d variants", page)
    assert "<script" not in page.lower()


async def test_start_page_install_buttons_sign_a_fresh_link_at_click_time(
    client: httpx.AsyncClient, epoch_clock: FakeClock
) -> None:
    page = (await client.get("/")).text
    buttons = [unescape(href) for href in re.findall(r'<a class="button" href="([^"]*)"', page)]
    assert buttons == [f"/shops/{domain}/admin/apps/install" for domain in SHOPS]
    # Long after the page was rendered, a click still gets a link inside the 90 s window.
    epoch_clock.advance(3600)
    for domain, button in zip(SHOPS, buttons, strict=True):
        response = await client.get(button)
        assert response.status_code == 302
        link = response.headers["location"]
        assert link.startswith("http://app.test/shopify/install?")
        assert install_hmac_ok(link)
        params = dict(parse_qsl(urlsplit(link).query))
        assert set(params) == {"shop", "hmac", "timestamp", "host"}
        assert params["shop"] == domain
        assert int(params["timestamp"]) == int(epoch_clock.now)


async def test_stylesheet_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/_sandbox/static/sandbox.css")
    assert response.status_code == 200
    assert "text/css" in response.headers["content-type"]


async def test_shop_listing_has_tokenless_summary(client: httpx.AsyncClient) -> None:
    shops = (await client.get("/_sandbox/shops")).json()
    by_domain = {s["domain"]: s for s in shops}
    assert set(by_domain) == set(SHOPS)
    main = by_domain[MAIN_SHOP]
    assert main["productCount"] >= 30
    assert main["variantCount"] >= 100
    assert main["graphqlUrl"].endswith(f"/shops/{MAIN_SHOP}/admin/api/2026-10/graphql.json")
    assert install_hmac_ok(main["installUrl"])


async def test_storefront_page_for_an_active_product(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/shops/{MAIN_SHOP}/products/classic-cotton-t-shirt")
    assert response.status_code == 200
    assert "Classic Cotton T-Shirt" in response.text


async def test_merchant_edit_with_blank_title_is_422_with_user_errors(client: httpx.AsyncClient) -> None:
    response = await client.patch(f"/_sandbox/shops/{MAIN_SHOP}/products/{FIRST_ID + 2}", json={"title": ""})
    assert response.status_code == 422
    assert response.json() == {"userErrors": [{"field": ["title"], "message": "Title can't be blank"}]}


async def test_unknown_shop_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_sandbox/shops/nope.myshopify.com")).status_code == 404
    response = await client.post(
        "/shops/nope.myshopify.com/admin/api/2026-10/graphql.json", json={"query": "{}"}
    )
    assert response.status_code == 404
