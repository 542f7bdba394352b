"""The install endpoints refuse anything forged, stale or foreign, and store nothing then."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine

from connectors.shopify_auth import query_signature
from iam.tables import OAuthState, Shop

pytestmark = pytest.mark.postgres
SECRET = "dev-shopify-secret"
SHOP = "demo-store.myshopify.com"


def signed(params: dict[str, str], secret: str = SECRET) -> dict[str, str]:
    return {**params, "hmac": query_signature(list(params.items()), secret)}


def install_params(shop: str = SHOP, timestamp: float | None = None) -> dict[str, str]:
    moment = str(int(timestamp if timestamp is not None else time.time()))
    return {"shop": shop, "timestamp": moment, "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtbw"}


async def test_genuine_install_redirects_to_shopify_with_a_browser_bound_state(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/shopify/install", params=signed(install_params()))
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"http://shopify.test/shops/{SHOP}/admin/oauth/authorize"
    )
    query = parse_qs(location.query)
    assert query["client_id"] == ["dev-shopify-key"]
    assert query["redirect_uri"] == ["http://testserver/shopify/callback"]
    assert "write_products" in query["scope"][0].split(",")
    state = query["state"][0]
    cookie = response.headers["set-cookie"]
    assert "funnelsync_install=" in cookie
    assert "HttpOnly" in cookie
    stored = await OAuthState.select(OAuthState.state_hash, OAuthState.shop_domain).first()
    assert stored is not None
    assert stored["shop_domain"] == SHOP
    assert state not in stored["state_hash"]  # only a digest is kept


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        ({**install_params(), "hmac": "0" * 64}, "signature does not match"),
        (install_params(), "not signed"),
        (signed(install_params(timestamp=time.time() - 600)), "too old"),
        (signed(install_params(), secret="someone-else"), "signature does not match"),
        (signed(install_params(shop="evil.com")), "not a Shopify store address"),
        (signed(install_params(shop="x.myshopify.com.evil.com")), "not a Shopify store address"),
        (signed(install_params(shop="DEMO STORE.myshopify.com")), "not a Shopify store address"),
    ],
    ids=["forged-hmac", "missing-hmac", "old-timestamp", "wrong-secret", "evil", "suffix-trick", "space"],
)
async def test_bad_install_request_is_refused_with_a_clear_page(
    client: httpx.AsyncClient, params: dict[str, str], shown: str
) -> None:
    response = await client.get("/shopify/install", params=params, headers={"accept": "text/html"})
    assert response.status_code == 400
    assert shown in response.text
    assert "Nothing was saved" in response.text
    assert await OAuthState.count() == 0


async def start_install(client: httpx.AsyncClient) -> str:
    response = await client.get("/shopify/install", params=signed(install_params()))
    return parse_qs(urlsplit(response.headers["location"]).query)["state"][0]


def callback_params(state: str, shop: str = SHOP, code: str = "the-code") -> dict[str, str]:
    return signed(
        {"code": code, "shop": shop, "state": state, "timestamp": str(int(time.time())), "host": "x"}
    )


async def test_callback_with_missing_state_is_refused(client: httpx.AsyncClient) -> None:
    await start_install(client)
    response = await client.get("/shopify/callback", params=callback_params(""))
    assert response.status_code == 400
    assert "missing its security state" in response.text
    assert await Shop.count() == 0


async def test_callback_with_unknown_state_is_refused(client: httpx.AsyncClient) -> None:
    await start_install(client)
    response = await client.get("/shopify/callback", params=callback_params("made-up-state"))
    assert response.status_code == 400
    assert "expired or was already used" in response.text


async def test_callback_from_another_browser_is_refused(client: httpx.AsyncClient) -> None:
    state = await start_install(client)
    client.cookies.clear()  # the callback arrives in a browser that did not start the install
    response = await client.get("/shopify/callback", params=callback_params(state))
    assert response.status_code == 400
    assert "another browser" in response.text
    assert await Shop.count() == 0


async def test_callback_state_cannot_be_used_twice(client: httpx.AsyncClient) -> None:
    state = await start_install(client)
    first = await client.get("/shopify/callback", params=callback_params(state))
    # The code exchange fails here (no Shopify in this test), but the state is spent.
    assert first.status_code == 400
    again = await client.get("/shopify/callback", params=callback_params(state))
    assert "expired or was already used" in again.text
    assert await Shop.count() == 0


async def test_callback_for_a_different_shop_than_the_state_is_refused(client: httpx.AsyncClient) -> None:
    state = await start_install(client)
    response = await client.get(
        "/shopify/callback", params=callback_params(state, shop="other.myshopify.com")
    )
    assert "different store" in response.text


async def test_callback_with_forged_signature_is_refused_before_the_state_is_touched(
    client: httpx.AsyncClient,
) -> None:
    state = await start_install(client)
    params = {**callback_params(state), "hmac": "f" * 64}
    response = await client.get("/shopify/callback", params=params)
    assert response.status_code == 400
    assert "could not verify" in response.text
    assert await OAuthState.count().where(OAuthState.used_at.is_null()) == 1


async def test_state_expires_after_ten_minutes(client: httpx.AsyncClient) -> None:
    state = await start_install(client)
    with time_machine.travel(time.time() + 11 * 60, tick=True):
        response = await client.get("/shopify/callback", params=callback_params(state))
    assert "expired or was already used" in response.text
