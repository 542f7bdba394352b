"""Token exchange and refresh, judged by Shopify's official package (`shopifyapp`).

The package verifies the sandbox's ID tokens the way an app does (`verify_app_home_req`),
exchanges them at the sandbox's token endpoint and refreshes what it got, over a real
socket; the raw answers are checked against Shopify's documented shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from shopify_app.types import IdTokenDetails, TokenExchangeAccessToken

from sandbox.shopify.config import DEFAULT_APP_SCOPES
from sandbox.tests.integration.shopify.shopify_embedded_support import (
    APP_URL,
    CLIENT_ID,
    PATCH_ID_TOKEN_PATH,
    SECRET,
    Served,
    document_request,
    served_shopify,
)
from sandbox.tests.integration.shopify.shopify_sandbox_support import API_VERSION, MAIN_SHOP

OTHER_SHOP = "demo-plus.myshopify.com"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
SCOPES_QUERY = "{ currentAppInstallation { accessScopes { handle } } }"


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async with served_shopify() as running:
        yield running


async def install(served: Served, shop: str = MAIN_SHOP) -> None:
    response = await served.http.post(f"/_sandbox/shops/{shop}/app-installation")
    assert response.status_code == 200, response.text


async def id_token(served: Served, shop: str = MAIN_SHOP, **bends: Any) -> str:
    response = await served.http.post(f"/_sandbox/shops/{shop}/id-tokens", json=bends or None)
    assert response.status_code == 201, response.text
    token: str = response.json()["idToken"]
    return token


def unverified(token: str, shop: str = MAIN_SHOP) -> IdTokenDetails:
    """What a careless app would hand the package: a token it never verified, so that
    only the sandbox stands between it and an access token."""
    return IdTokenDetails(exchangeable=True, token=token, claims={"dest": f"https://{shop}"})


async def granted_scopes(served: Served, shop: str, access_token: str) -> list[str]:
    response = await served.http.post(
        f"/shops/{shop}/admin/api/{API_VERSION}/graphql.json",
        json={"query": SCOPES_QUERY},
        headers={"X-Shopify-Access-Token": access_token},
    )
    assert response.status_code == 200, response.text
    return [s["handle"] for s in response.json()["data"]["currentAppInstallation"]["accessScopes"]]


def tokens_of(served: Served, shop: str = MAIN_SHOP) -> tuple[int, int]:
    record = served.sandbox.store.shop(shop)
    assert record is not None
    return len(record.tokens), len(record.refresh_tokens)


async def exchange(served: Served, shop: str = MAIN_SHOP, **fields: Any) -> httpx.Response:
    body = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "grant_type": TOKEN_EXCHANGE,
        "subject_token_type": ID_TOKEN_TYPE,
        "requested_token_type": OFFLINE_TOKEN_TYPE,
        "expiring": 1,
        **fields,
    }
    return await served.http.post(f"/shops/{shop}/admin/oauth/access_token", json=body)


async def test_the_package_verifies_an_id_token_and_exchanges_it_for_an_expiring_offline_token(
    served: Served,
) -> None:
    await install(served)
    token = await id_token(served)
    url = f"{APP_URL}/?{urlencode({'embedded': '1', 'id_token': token, 'shop': MAIN_SHOP})}"
    verified = served.shopify.verify_app_home_req(document_request(url), PATCH_ID_TOKEN_PATH)
    assert (verified.ok, verified.shop, verified.log.code) == (True, "demo-store", "verified")
    assert verified.id_token is not None

    result = await served.shopify.exchange_using_token_exchange_async(
        "offline",
        verified.id_token,
        verified.invalid_token_response,
        http_client=served.shopify_http,
    )

    assert (result.ok, result.log.code, result.shop) == (True, "success", "demo-store"), result.log
    access = result.access_token
    assert access is not None
    assert access.token.startswith("shpat_")
    assert access.expires is not None
    assert access.refresh_token is not None
    assert access.refresh_token_expires is not None
    assert access.scope == ",".join(DEFAULT_APP_SCOPES)
    assert await granted_scopes(served, MAIN_SHOP, access.token) == list(DEFAULT_APP_SCOPES)


async def test_the_token_exchange_answer_has_shopifys_fields(served: Served) -> None:
    await install(served)
    response = await exchange(served, subject_token=await id_token(served))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token", "refresh_token_expires_in", "scope"}
    assert (body["expires_in"], body["refresh_token_expires_in"]) == (3600, 90 * 24 * 3600)
    assert body["refresh_token"].startswith("shprt_")
    assert response.headers["cache-control"] == "no-store"


async def test_without_expiring_the_exchange_gives_a_token_that_never_expires(served: Served) -> None:
    await install(served)
    response = await exchange(served, subject_token=await id_token(served), expiring=0)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access_token", "scope"}


async def test_the_package_refreshes_an_exchanged_token_and_the_old_pair_dies(served: Served) -> None:
    await install(served)
    first = await served.shopify.exchange_using_token_exchange_async(
        "offline", unverified(await id_token(served)), http_client=served.shopify_http
    )
    assert first.access_token is not None
    # The package refreshes only a token about to expire; this one is, by its record.
    due = dataclasses.replace(first.access_token, expires="2000-01-01T00:00:00Z")

    refreshed = await served.shopify.refresh_token_exchanged_access_token_async(
        due, http_client=served.shopify_http
    )

    assert (refreshed.ok, refreshed.log.code) == (True, "success"), refreshed.log
    new = refreshed.access_token
    assert new is not None
    assert new.token != first.access_token.token
    assert new.refresh_token not in (None, first.access_token.refresh_token)
    assert await granted_scopes(served, MAIN_SHOP, new.token) == list(DEFAULT_APP_SCOPES)
    old = await served.http.post(
        f"/shops/{MAIN_SHOP}/admin/api/{API_VERSION}/graphql.json",
        json={"query": SCOPES_QUERY},
        headers={"X-Shopify-Access-Token": first.access_token.token},
    )
    assert old.status_code == 401
    again = await served.shopify.refresh_token_exchanged_access_token_async(
        due, http_client=served.shopify_http
    )
    assert (again.ok, again.log.code) == (False, "invalid_grant")


async def test_the_package_leaves_a_fresh_token_alone(served: Served) -> None:
    fresh = TokenExchangeAccessToken(
        access_mode="offline",
        shop="demo-store",
        token="shpat_x",
        expires="2999-01-01T00:00:00Z",
        scope="",
        refresh_token="shprt_x",
        refresh_token_expires="2999-01-01T00:00:00Z",
        user=None,
    )
    result = await served.shopify.refresh_token_exchanged_access_token_async(
        fresh, http_client=served.shopify_http
    )
    assert (result.ok, result.log.code) == (True, "token_still_valid")
    assert len(served.sandbox.oauth.requests) == 0  # nothing was sent


@pytest.mark.parametrize(
    "bends",
    [
        pytest.param({"ttl": -1}, id="expired"),
        pytest.param(
            {"secret": "shpss_another_apps_secret_0123456789abcdef"}, id="signed-with-another-secret"
        ),
        pytest.param({"aud": "another-apps-client-id"}, id="audience-of-another-app"),
    ],
)
async def test_the_sandbox_refuses_an_id_token_the_admin_did_not_give_this_app_now(
    served: Served, bends: dict[str, Any]
) -> None:
    await install(served)
    before = tokens_of(served)

    result = await served.shopify.exchange_using_token_exchange_async(
        "offline",
        unverified(await id_token(served, **bends)),
        {"status": 401, "body": "", "headers": {"X-Shopify-Retry-Invalid-Session-Request": "1"}},
        http_client=served.shopify_http,
    )

    assert (result.ok, result.log.code, result.response.status) == (False, "invalid_subject_token", 401)
    assert result.http_logs[-1].res.status == 400
    assert tokens_of(served) == before


async def test_an_id_token_of_another_shop_is_refused_at_this_shops_endpoint(served: Served) -> None:
    await install(served)
    await install(served, OTHER_SHOP)
    response = await exchange(served, MAIN_SHOP, subject_token=await id_token(served, OTHER_SHOP))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_subject_token"
    assert "another shop" in response.json()["error_description"]
    assert tokens_of(served) == (0, 0)


async def test_a_tampered_id_token_is_refused(served: Served) -> None:
    await install(served)
    head, payload, signature = (await id_token(served)).split(".")
    response = await exchange(served, subject_token=f"{head}.{payload}.{signature[::-1]}")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_subject_token")


async def test_without_an_installation_the_exchange_is_refused_as_shopify_refuses_an_uninstalled_app(
    served: Served,
) -> None:
    token = await id_token(served)
    result = await served.shopify.exchange_using_token_exchange_async(
        "offline", unverified(token), http_client=served.shopify_http
    )
    assert (result.ok, result.log.code) == (False, "invalid_client")
    assert tokens_of(served) == (0, 0)


async def test_uninstalling_ends_what_token_exchange_can_get(served: Served) -> None:
    await install(served)
    assert (await exchange(served, subject_token=await id_token(served))).status_code == 200
    assert (await served.http.post(f"/_sandbox/shops/{MAIN_SHOP}/uninstall")).status_code == 200
    response = await exchange(served, subject_token=await id_token(served))
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


async def test_revoked_tokens_are_refused_and_refused_to_refresh_while_exchange_still_works(
    served: Served,
) -> None:
    await install(served)
    first = await served.shopify.exchange_using_token_exchange_async(
        "offline", unverified(await id_token(served)), http_client=served.shopify_http
    )
    assert first.access_token is not None
    revoked = await served.http.post(f"/_sandbox/shops/{MAIN_SHOP}/tokens/revoke")
    assert (revoked.status_code, revoked.json()) == (200, {"revoked": 2})
    assert tokens_of(served) == (0, 0)
    refused = await served.http.post(
        f"/shops/{MAIN_SHOP}/admin/api/{API_VERSION}/graphql.json",
        json={"query": SCOPES_QUERY},
        headers={"X-Shopify-Access-Token": first.access_token.token},
    )
    assert refused.status_code == 401
    due = dataclasses.replace(first.access_token, expires="2000-01-01T00:00:00Z")
    refreshed = await served.shopify.refresh_token_exchanged_access_token_async(
        due, http_client=served.shopify_http
    )
    assert (refreshed.ok, refreshed.log.code) == (False, "invalid_grant")
    # Still installed: a fresh ID token gets a working token again.
    again = await served.shopify.exchange_using_token_exchange_async(
        "offline", unverified(await id_token(served)), http_client=served.shopify_http
    )
    assert again.access_token is not None
    assert await granted_scopes(served, MAIN_SHOP, again.access_token.token) == list(DEFAULT_APP_SCOPES)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param({"subject_token": ""}, "invalid_request", id="no-subject-token"),
        pytest.param({"subject_token_type": "urn:x"}, "invalid_request", id="other-subject-token-type"),
        pytest.param({"requested_token_type": "urn:x"}, "invalid_request", id="other-requested-type"),
        pytest.param({"client_secret": "wrong"}, "invalid_client", id="wrong-client-secret"),
    ],
)
async def test_malformed_token_exchange_requests_get_oauth_errors(
    served: Served, fields: dict[str, Any], error: str
) -> None:
    await install(served)
    response = await exchange(served, **{"subject_token": await id_token(served), **fields})
    assert response.status_code in (400, 401)
    assert response.json()["error"] == error
    assert tokens_of(served) == (0, 0)
