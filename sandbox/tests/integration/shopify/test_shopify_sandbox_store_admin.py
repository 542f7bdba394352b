"""The store admin: managed installation from the app listing, and the app opened in an
iframe the way Shopify opens it, judged by Shopify's official package over a real socket."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from shopify_app.types import RequestInput

from sandbox.shopify.config import DEFAULT_APP_SCOPES
from sandbox.shopify.state import Store
from sandbox.tests.integration.shopify.shopify_embedded_support import (
    APP_URL,
    PATCH_ID_TOKEN_PATH,
    SECRET,
    Served,
    document_request,
    served_shopify,
)
from sandbox.tests.integration.shopify.shopify_sandbox_support import MAIN_SHOP, query_signature_ok

ADMIN = "/admin/store/demo-store"
APP = f"{ADMIN}/apps/funnelsync"
LISTING = f"{ADMIN}/app-store/funnelsync"


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async with served_shopify() as running:
        yield running


def frame_src(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text
    found = re.search(r'<iframe id="app-frame"[^>]* src="([^"]+)"', page.text)
    assert found, page.text
    return html.unescape(found.group(1))


def params_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


async def install_from_listing(served: Served) -> httpx.Response:
    response = await served.http.post(f"{LISTING}/install")
    assert response.status_code == 303, response.text
    return response


async def test_installing_from_the_listing_grants_the_toml_scopes_without_oauth_and_opens_the_app(
    served: Served,
) -> None:
    listing = await served.http.get(LISTING)
    assert listing.status_code == 200
    assert all(f"<code>{scope}</code>" in listing.text for scope in DEFAULT_APP_SCOPES)
    assert 'action="/admin/store/demo-store/app-store/funnelsync/install"' in listing.text

    response = await install_from_listing(served)

    assert response.headers["location"] == APP  # into the admin, never to the app's OAuth
    shop = served.sandbox.store.shop(MAIN_SHOP)
    assert shop is not None
    assert shop.installed_scopes == list(DEFAULT_APP_SCOPES)
    assert (served.sandbox.oauth.codes, shop.tokens) == ({}, {})


async def test_the_installation_survives_a_restart_through_the_state_file(served: Served) -> None:
    await install_from_listing(served)
    restored = Store.from_json(served.sandbox.store.to_json()).shop(MAIN_SHOP)
    assert restored is not None
    assert restored.installed_scopes == list(DEFAULT_APP_SCOPES)


async def test_the_admin_opens_the_app_in_an_iframe_with_shopifys_parameters_signed(served: Served) -> None:
    await install_from_listing(served)
    src = frame_src(await served.http.get(APP))

    assert src.startswith(f"{APP_URL}/?")
    params = params_of(src)
    assert set(params) == {"embedded", "hmac", "host", "id_token", "locale", "session", "shop", "timestamp"}
    assert (params["embedded"], params["shop"], params["locale"]) == ("1", MAIN_SHOP, "en")
    assert (
        params["host"] == "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtby1zdG9yZQ"
    )  # admin.shopify.com/store/demo-store
    assert query_signature_ok(src, SECRET)


async def test_the_package_verifies_the_exact_iframe_url_and_exchanges_its_id_token(served: Served) -> None:
    await install_from_listing(served)
    src = frame_src(await served.http.get(APP))

    verified = served.shopify.verify_app_home_req(document_request(src), PATCH_ID_TOKEN_PATH)

    assert (verified.ok, verified.shop, verified.log.code) == (True, "demo-store", "verified")
    assert verified.id_token is not None
    claims = verified.id_token.claims
    assert (claims["iss"], claims["dest"], claims["aud"]) == (
        f"https://{MAIN_SHOP}/admin",
        f"https://{MAIN_SHOP}",
        "dev-shopify-key",
    )
    assert claims["exp"] - claims["iat"] == 60
    assert claims["nbf"] == claims["iat"]
    assert claims["sid"] == params_of(src)["session"]
    assert verified.user_id == claims["sub"]
    exchanged = await served.shopify.exchange_using_token_exchange_async(
        "offline", verified.id_token, verified.invalid_token_response, http_client=served.shopify_http
    )
    assert (exchanged.ok, exchanged.log.code) == (True, "success"), exchanged.log


async def test_reopening_an_installed_app_from_the_app_list_opens_the_iframe_directly(served: Served) -> None:
    await install_from_listing(served)
    apps = await served.http.get(f"{ADMIN}/apps")
    assert apps.status_code == 200
    assert f'href="{APP}"' in apps.text

    reopened = await served.http.get(APP)

    assert frame_src(reopened).startswith(f"{APP_URL}/?")
    assert "/admin/oauth/authorize" not in reopened.text
    assert "Install" not in reopened.text


async def test_an_app_not_installed_sends_the_merchant_to_its_listing(served: Served) -> None:
    apps = await served.http.get(f"{ADMIN}/apps")
    assert f'href="{LISTING}"' in apps.text
    response = await served.http.get(APP)
    assert (response.status_code, response.headers["location"]) == (303, LISTING)


async def test_a_deep_link_opens_that_page_of_the_app_with_its_query_and_without_forged_parameters(
    served: Served,
) -> None:
    await install_from_listing(served)
    src = frame_src(
        await served.http.get(f"{APP}/funnels/3", params={"tab": "offers", "shop": "evil.myshopify.com"})
    )

    assert urlsplit(src).path == "/funnels/3"
    params = params_of(src)
    assert (params["tab"], params["shop"]) == ("offers", MAIN_SHOP)
    assert query_signature_ok(src, SECRET)
    assert served.shopify.verify_app_home_req(document_request(src), PATCH_ID_TOKEN_PATH).ok


async def test_shopifys_admin_address_of_the_app_leads_to_the_same_page_of_the_app(served: Served) -> None:
    # Apps build `https://admin.shopify.com/store/{store}/apps/{handle}/...` (e.g. a billing
    # returnUrl); with the sandbox as the admin origin, that address opens the same page.
    await install_from_listing(served)
    moved = await served.http.get(
        "/store/demo-store/apps/funnelsync/billing/return", params={"charge_id": "7"}
    )
    assert moved.status_code == 302
    assert moved.headers["location"] == f"{APP}/billing/return?charge_id=7"
    src = frame_src(await served.http.get(moved.headers["location"]))
    assert urlsplit(src).path == "/billing/return"
    assert params_of(src)["charge_id"] == "7"


async def test_shopifys_own_admin_url_of_an_app_page_opens_it_like_the_sandbox_admin_path(
    served: Served,
) -> None:
    """Apps give `https://admin.shopify.com/store/{store}/apps/{handle}/…` as a billing returnUrl."""
    await install_from_listing(served)
    moved = await served.http.get(
        "/store/demo-store/apps/funnelsync/billing/return",
        params={"then": "/funnels/3/review", "charge_id": "9"},
    )
    assert moved.status_code == 302
    assert moved.headers["location"] == f"{APP}/billing/return?then=%2Ffunnels%2F3%2Freview&charge_id=9"
    src = frame_src(await served.http.get(moved.headers["location"]))
    assert urlsplit(src).path == "/billing/return"
    assert (params_of(src)["then"], params_of(src)["charge_id"]) == ("/funnels/3/review", "9")
    home = await served.http.get("/store/demo-store/apps/funnelsync")
    assert home.headers["location"] == APP


async def test_the_admin_mints_fresh_id_tokens_for_app_bridge_only_for_an_installed_app(
    served: Served,
) -> None:
    refused = await served.http.post(f"{APP}/id-token")
    assert (refused.status_code, refused.json()) == (409, {"error": "app_not_installed"})

    await install_from_listing(served)
    response = await served.http.post(f"{APP}/id-token")

    assert response.status_code == 200
    token = response.json()["idToken"]
    fetch: RequestInput = {
        "method": "POST",
        "headers": {"Authorization": f"Bearer {token}"},
        "url": f"{APP_URL}/funnels",
        "body": "",
    }
    verified = served.shopify.verify_app_home_req(fetch, PATCH_ID_TOKEN_PATH)
    assert (verified.ok, verified.shop) == (True, "demo-store")


async def test_unknown_stores_and_apps_are_404_pages(served: Served) -> None:
    assert (await served.http.get("/admin/store/nowhere/apps")).status_code == 404
    assert (await served.http.get(f"{ADMIN}/app-store/another-app")).status_code == 404
    assert (await served.http.get(f"{ADMIN}/apps/another-app")).status_code == 404


async def test_the_app_bridge_stand_in_is_served_as_javascript(served: Served) -> None:
    response = await served.http.get("/cdn/app-bridge.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "window.shopify" in response.text


async def test_the_start_page_leads_to_each_store_admin(served: Served) -> None:
    start = await served.http.get("/")
    assert f'href="{ADMIN}/apps"' in start.text


async def test_the_control_api_gives_the_iframe_url_for_tests_without_a_browser(served: Served) -> None:
    refused = await served.http.get(f"/_sandbox/shops/{MAIN_SHOP}/app-home-url")
    assert refused.status_code == 409

    await install_from_listing(served)
    response = await served.http.get(
        f"/_sandbox/shops/{MAIN_SHOP}/app-home-url", params={"path": "funnels/3"}
    )

    url = response.json()["url"]
    assert url.startswith(f"{APP_URL}/funnels/3?")
    assert query_signature_ok(url, SECRET)
    assert served.shopify.verify_app_home_req(document_request(url), PATCH_ID_TOKEN_PATH).ok


async def test_the_admin_url_apps_link_merchants_to_opens_the_app(served: Served) -> None:
    """admin.shopify.com/store/{store}/apps/{handle}: where an app sends a merchant to open it."""
    await install_from_listing(served)
    response = await served.http.get("/store/demo-store/apps/funnelsync")
    assert (response.status_code, response.headers["location"]) == (302, APP)
    assert frame_src(await served.http.get(APP)).startswith(f"{APP_URL}/?")
