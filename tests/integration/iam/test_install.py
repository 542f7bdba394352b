"""Installing the app (iam/install.py): the whole Shopify OAuth round trip against the Shopify sandbox
over ASGI, a reinstall, and the install endpoints refusing anything forged, stale or foreign while
storing nothing then."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
import time_machine

from connectors.shopify_auth import query_signature
from iam.provisioning import setup_progress
from iam.tables import AccountStatus, MerchantSession, OAuthState, Shop
from lib.clock import utcnow
from sync.subscriptions import WEBHOOKS_QUERY
from sync.topics import SHOPIFY_WEBHOOK_TOPICS
from tests.support.oauth_install import approve, install_through_shopify, path_of
from tests.support.shops import SHOP, clients_of
from tests.support.stack import Stack, running_stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        yield running


async def subscribed_topics(stack: Stack) -> list[str]:
    """The shop's webhook subscriptions, read through the app's own GraphQL client."""
    shopify = await clients_of(stack.app).shopify_for(SHOP)
    result = await shopify.graphql(WEBHOOKS_QUERY)
    return [str(node["topic"]) for node in result.data["webhookSubscriptions"]["nodes"]]


async def test_install_stores_encrypted_expiring_tokens_and_sets_up_the_shop(stack: Stack) -> None:
    callback = await install_through_shopify(stack)
    assert callback.status_code == 302
    assert callback.headers["location"] == "/setup"
    shop = await Shop.select().where(Shop.domain == SHOP).first()
    assert shop is not None
    assert shop["access_token"].startswith("v1.")
    assert "shpat_" not in shop["access_token"]
    assert shop["refresh_token"].startswith("v1.")
    assert shop["access_token_expires_at"] > utcnow() + timedelta(minutes=50)
    assert shop["refresh_token_expires_at"] > utcnow() + timedelta(days=80)
    assert await MerchantSession.count().where(MerchantSession.shop_domain == SHOP) == 1

    setup_page = await stack.client.get("/setup/")
    assert "Setting up your CRM and page builder accounts" in setup_page.text
    await stack.drain()
    assert {item.status for item in await setup_progress(SHOP)} == {AccountStatus.READY}
    assert sorted(await subscribed_topics(stack)) == sorted(SHOPIFY_WEBHOOK_TOPICS)
    done = await stack.client.get("/setup/progress")
    assert "Your accounts are ready" in done.text


async def test_reinstall_keeps_the_shop_and_registers_no_duplicate_webhooks(stack: Stack) -> None:
    await install_through_shopify(stack)
    await stack.drain()
    first_id = (await Shop.select(Shop.id).first() or {})["id"]
    # Uninstalled in between (what app/uninstalled leaves), so the admin's link installs again.
    await Shop.update(
        {Shop.access_token: None, Shop.refresh_token: None, Shop.uninstalled_at: utcnow()}, force=True
    )
    await install_through_shopify(stack)
    await stack.drain()
    assert await Shop.count() == 1
    assert (await Shop.select(Shop.id).first() or {})["id"] == first_id
    assert sorted(await subscribed_topics(stack)) == sorted(SHOPIFY_WEBHOOK_TOPICS)
    assert len((await stack.crm.get("/_sandbox/users")).json()["data"]) == 1


async def test_opening_the_app_again_signs_the_merchant_in_without_a_consent_screen(stack: Stack) -> None:
    await install_through_shopify(stack)
    states_before = await OAuthState.count()
    stack.client.cookies.clear()  # another day, another browser session
    link = (await stack.shopify.get(f"/_sandbox/shops/{SHOP}/install-link")).json()["url"]
    opened = await stack.client.get(path_of(link))
    assert opened.status_code == 302
    assert opened.headers["location"] == "/app/"  # not Shopify's consent page, not the setup page
    assert await OAuthState.count() == states_before
    dashboard = await stack.client.get("/app/")
    assert dashboard.status_code == 200
    assert len((await stack.shopify.get("/_sandbox/oauth/requests")).json()["requests"]) == 1


async def test_missing_scopes_are_shown_and_nothing_is_stored(stack: Stack) -> None:
    await stack.shopify.put(
        f"/_sandbox/shops/{SHOP}/oauth/granted-scopes", json={"scopes": ["write_products", "read_customers"]}
    )
    callback = await install_through_shopify(stack)
    assert callback.status_code == 403
    assert "did not grant every permission" in callback.text
    assert "write_orders" in callback.text
    assert await Shop.count() == 0


async def test_token_endpoint_5xx_is_shown_and_nothing_is_stored(stack: Stack) -> None:
    body = {"kind": "http_500", "count": 1, "shop": SHOP, "path": "oauth"}
    assert (await stack.shopify.post("/_sandbox/faults", json=body)).status_code in (200, 201)
    callback = await install_through_shopify(stack)
    assert callback.status_code == 400
    assert "Shopify did not confirm the installation" in callback.text
    assert await Shop.count() == 0


async def test_code_already_used_is_refused(stack: Stack) -> None:
    link = (await stack.shopify.get(f"/_sandbox/shops/{SHOP}/install-link")).json()["url"]
    authorize = (await stack.client.get(path_of(link))).headers["location"]
    callback_url = (await approve(stack, authorize)).headers["location"]
    # Someone replays the code through a fresh install attempt of their own.
    await stack.shopify.post(
        f"/shops/{SHOP}/admin/oauth/access_token",
        data={
            "client_id": "dev-shopify-key",
            "client_secret": "dev-shopify-secret",
            "code": dict(parse_qsl(urlsplit(callback_url).query))["code"],
        },
    )
    callback = await stack.client.get(path_of(callback_url))
    assert callback.status_code == 400
    assert await Shop.count() == 0


SECRET = "dev-shopify-secret"


def signed(params: dict[str, str], secret: str = SECRET) -> dict[str, str]:
    return {**params, "hmac": query_signature(list(params.items()), secret)}


def install_params(shop: str = SHOP, timestamp: float | None = None) -> dict[str, str]:
    moment = str(int(timestamp if timestamp is not None else time.time()))
    return {"shop": shop, "timestamp": moment, "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtbw"}


@pytest.mark.postgres
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


@pytest.mark.postgres
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


@pytest.mark.postgres
async def test_callback_with_missing_state_is_refused(client: httpx.AsyncClient) -> None:
    await start_install(client)
    response = await client.get("/shopify/callback", params=callback_params(""))
    assert response.status_code == 400
    assert "missing its security state" in response.text
    assert await Shop.count() == 0


@pytest.mark.postgres
async def test_callback_with_unknown_state_is_refused(client: httpx.AsyncClient) -> None:
    await start_install(client)
    response = await client.get("/shopify/callback", params=callback_params("made-up-state"))
    assert response.status_code == 400
    assert "expired or was already used" in response.text


@pytest.mark.postgres
async def test_callback_from_another_browser_is_refused(client: httpx.AsyncClient) -> None:
    state = await start_install(client)
    client.cookies.clear()  # the callback arrives in a browser that did not start the install
    response = await client.get("/shopify/callback", params=callback_params(state))
    assert response.status_code == 400
    assert "another browser" in response.text
    assert await Shop.count() == 0


@pytest.mark.postgres
async def test_callback_state_cannot_be_used_twice(client: httpx.AsyncClient) -> None:
    state = await start_install(client)
    first = await client.get("/shopify/callback", params=callback_params(state))
    # The code exchange fails here (no Shopify in this test), but the state is spent.
    assert first.status_code == 400
    again = await client.get("/shopify/callback", params=callback_params(state))
    assert "expired or was already used" in again.text
    assert await Shop.count() == 0


@pytest.mark.postgres
async def test_callback_for_a_different_shop_than_the_state_is_refused(client: httpx.AsyncClient) -> None:
    state = await start_install(client)
    response = await client.get(
        "/shopify/callback", params=callback_params(state, shop="other.myshopify.com")
    )
    assert "different store" in response.text


@pytest.mark.postgres
async def test_callback_with_forged_signature_is_refused_before_the_state_is_touched(
    client: httpx.AsyncClient,
) -> None:
    state = await start_install(client)
    params = {**callback_params(state), "hmac": "f" * 64}
    response = await client.get("/shopify/callback", params=params)
    assert response.status_code == 400
    assert "could not verify" in response.text
    assert await OAuthState.count().where(OAuthState.used_at.is_null()) == 1


@pytest.mark.postgres
async def test_state_expires_after_ten_minutes(client: httpx.AsyncClient) -> None:
    state = await start_install(client)
    with time_machine.travel(time.time() + 11 * 60, tick=True):
        response = await client.get("/shopify/callback", params=callback_params(state))
    assert "expired or was already used" in response.text
