"""Shopify OAuth in the sandbox: consent page, approval redirect, code exchange, expiring
tokens with refresh rotation, narrowed scopes, faults on the token endpoint, request log."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from html import unescape
from typing import Any

import httpx
import pytest

from sandbox.shopify import ShopifySandboxConfig, create_shopify_sandbox
from sandbox.tests.integration.shopify.shopify_oauth_support import (
    CALLBACK,
    CLIENT_ID,
    REQUIRED_SCOPES,
    STATE,
    approve,
    authorization_code,
    authorize_params,
    authorize_path,
    install,
    query_of,
    refresh,
    token_path,
    token_request,
)
from sandbox.tests.integration.shopify.shopify_sandbox_support import (
    EPOCH_START,
    MAIN_SHOP,
    SECRET,
    AdminApi,
    FakeClock,
    asgi_client,
    query_signature_ok,
    running,
)

SCOPES_QUERY = "{ currentAppInstallation { accessScopes { handle } } }"
INVALID_CODE = {
    "error": "invalid_request",
    "error_description": "The authorization code was not found or was already used",
}


def access_scopes(body: dict[str, Any]) -> list[str]:
    return [s["handle"] for s in body["data"]["currentAppInstallation"]["accessScopes"]]


async def add_oauth_fault(client: httpx.AsyncClient, **fault: object) -> None:
    response = await client.post("/_sandbox/faults", json={"shop": MAIN_SHOP, "path": "oauth", **fault})
    assert response.status_code == 201, response.text


async def token_log(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/_sandbox/oauth/requests", params=params)
    assert response.status_code == 200
    requests: list[dict[str, Any]] = response.json()["requests"]
    return requests


# -- consent page -----------------------------------------------------------------------


async def test_consent_page_names_the_app_and_store_and_lists_every_scope(client: httpx.AsyncClient) -> None:
    response = await client.get(authorize_path(), params=authorize_params())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    page = unescape(response.text)
    assert "FunnelSync wants to access demo-store" in page
    for scope in REQUIRED_SCOPES.split(","):
        assert f"<code>{scope}</code>" in page
    assert "View and edit products" in page
    assert "<script" not in page.lower()
    assert 'href="/_sandbox/static/sandbox.css"' in page


async def test_consent_form_posts_the_request_back_with_install_and_cancel(client: httpx.AsyncClient) -> None:
    page = (await client.get(authorize_path(), params=authorize_params())).text
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', page, re.S)
    assert form is not None
    assert form.group(1) == authorize_path()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)))
    assert {k: unescape(v) for k, v in hidden.items()} == authorize_params()
    assert re.search(r'<button type="submit"[^>]*>Install app</button>', form.group(2))
    assert re.search(r'<a class="button secondary" href="[^"]+">Cancel</a>', form.group(2))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"client_id": "someone-else"}, "Could not find an app with client_id"),
        ({"redirect_uri": "http://evil.test/shopify/callback"}, "redirect_uri is not whitelisted"),
        ({"redirect_uri": "http://app.test:8080/shopify/callback"}, "redirect_uri is not whitelisted"),
        ({"redirect_uri": "https://app.test/shopify/callback"}, "redirect_uri is not whitelisted"),
        ({"redirect_uri": ""}, "redirect_uri is not whitelisted"),
        ({"scope": ""}, "no scope was requested"),
        ({"scope": "write_products,everything"}, "The access scope is invalid: everything"),
    ],
)
async def test_bad_authorize_requests_get_a_400_page_and_no_redirect(
    client: httpx.AsyncClient, overrides: dict[str, str], message: str
) -> None:
    for response in (
        await client.get(authorize_path(), params=authorize_params(**overrides)),
        await approve(client, **overrides),
    ):
        assert response.status_code == 400
        assert "location" not in response.headers
        assert response.headers["content-type"].startswith("text/html")
        assert message in unescape(response.text)
        assert "code=" not in response.text


async def test_redirect_uri_must_lie_under_the_apps_path(
    make_config: Callable[..., ShopifySandboxConfig],
) -> None:
    app = create_shopify_sandbox(make_config(app_url="http://app.test/funnelsync"))
    async with running(app), asgi_client(app) as client:
        outside = await approve(client, redirect_uri="http://app.test/other/callback")
        assert outside.status_code == 400
        inside = await approve(client, redirect_uri="http://app.test/funnelsync/shopify/callback")
        assert inside.status_code == 302


async def test_unknown_shop_gets_a_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get(authorize_path("nope.myshopify.com"), params=authorize_params())
    assert response.status_code == 404
    assert "There is no store at nope.myshopify.com" in response.text
    assert (await approve(client, "nope.myshopify.com")).status_code == 404


# -- approval -----------------------------------------------------------------------------


async def test_approval_redirects_to_the_app_with_a_verifiable_hmac(
    client: httpx.AsyncClient, epoch_clock: FakeClock
) -> None:
    response = await approve(client)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    params = query_of(location)
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert params["shop"] == MAIN_SHOP
    assert params["state"] == STATE
    assert params["timestamp"] == str(int(epoch_clock.now))
    assert re.fullmatch(r"[0-9a-f]{64}", params["hmac"])
    assert query_signature_ok(location)
    tampered = location.replace(f"state={STATE}", "state=forged")
    assert not query_signature_ok(tampered)


async def test_every_approval_gets_a_new_random_code(client: httpx.AsyncClient) -> None:
    codes = {await authorization_code(client) for _ in range(3)}
    assert len(codes) == 3
    assert all(len(code) >= 32 for code in codes)


# -- code exchange ------------------------------------------------------------------------


async def test_code_exchange_with_expiring_gives_the_documented_shape(client: httpx.AsyncClient) -> None:
    code = await authorization_code(client)
    response = await token_request(client, code=code, expiring="1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "scope", "expires_in", "refresh_token", "refresh_token_expires_in"}
    assert body["access_token"].startswith("shpat_")
    assert body["refresh_token"].startswith("shprt_")
    assert body["scope"] == REQUIRED_SCOPES
    assert body["expires_in"] == 3600
    assert body["refresh_token_expires_in"] == 7776000
    admin = AdminApi(client, MAIN_SHOP, body["access_token"])
    assert access_scopes(await admin.graphql(SCOPES_QUERY)) == REQUIRED_SCOPES.split(",")


async def test_code_exchange_accepts_a_json_body(client: httpx.AsyncClient) -> None:
    code = await authorization_code(client)
    response = await client.post(
        token_path(),
        json={"client_id": CLIENT_ID, "client_secret": SECRET, "code": code, "expiring": 1},
    )
    assert response.status_code == 200, response.text
    assert "refresh_token" in response.json()


async def test_without_expiring_the_token_is_legacy_and_never_expires(
    client: httpx.AsyncClient, epoch_clock: FakeClock
) -> None:
    body = await install(client, expiring=False)
    assert set(body) == {"access_token", "scope"}
    epoch_clock.advance(400 * 86400)
    admin = AdminApi(client, MAIN_SHOP, body["access_token"])
    assert (await admin.post("{ shop { name } }")).status_code == 200


async def test_a_reused_code_is_400(client: httpx.AsyncClient) -> None:
    code = await authorization_code(client)
    assert (await token_request(client, code=code, expiring="1")).status_code == 200
    again = await token_request(client, code=code, expiring="1")
    assert again.status_code == 400
    assert again.json() == INVALID_CODE


async def test_unknown_and_expired_codes_are_400(client: httpx.AsyncClient, epoch_clock: FakeClock) -> None:
    unknown = await token_request(client, code="0" * 32, expiring="1")
    assert (unknown.status_code, unknown.json()) == (400, INVALID_CODE)
    code = await authorization_code(client)
    epoch_clock.advance(601)
    expired = await token_request(client, code=code, expiring="1")
    assert (expired.status_code, expired.json()) == (400, INVALID_CODE)


async def test_a_code_only_works_at_the_shop_it_was_issued_for(client: httpx.AsyncClient) -> None:
    code = await authorization_code(client)
    elsewhere = await token_request(client, "demo-plus.myshopify.com", code=code, expiring="1")
    assert (elsewhere.status_code, elsewhere.json()) == (400, INVALID_CODE)


async def test_wrong_secret_or_unknown_client_is_401_invalid_client(client: httpx.AsyncClient) -> None:
    code = await authorization_code(client)
    for fields in ({"client_secret": "wrong"}, {"client_id": "someone-else"}):
        response = await token_request(client, code=code, expiring="1", **fields)
        assert response.status_code == 401
        body = response.json()
        assert body["error"] == "invalid_client"
        assert body["error_description"]
    # A refused client did not use the code up.
    assert (await token_request(client, code=code, expiring="1")).status_code == 200


@pytest.mark.parametrize("missing", ["client_id", "client_secret", "code"])
async def test_missing_parameters_are_400(client: httpx.AsyncClient, missing: str) -> None:
    form = {"client_id": CLIENT_ID, "client_secret": SECRET, "code": await authorization_code(client)}
    del form[missing]
    response = await client.post(token_path(), data=form)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert missing in response.json()["error_description"]


async def test_unsupported_grant_type_is_400(client: httpx.AsyncClient) -> None:
    response = await token_request(client, grant_type="client_credentials")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


# -- expiry and refresh -------------------------------------------------------------------


async def test_access_token_expires_after_expires_in(
    client: httpx.AsyncClient, epoch_clock: FakeClock
) -> None:
    body = await install(client)
    admin = AdminApi(client, MAIN_SHOP, body["access_token"])
    epoch_clock.advance(body["expires_in"] - 1)
    assert (await admin.post("{ shop { name } }")).status_code == 200
    epoch_clock.advance(1)
    expired = await admin.post("{ shop { name } }")
    assert expired.status_code == 401
    assert expired.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


async def test_refresh_rotates_the_pair(client: httpx.AsyncClient) -> None:
    first = await install(client)
    response = await refresh(client, first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert set(second) == set(first)
    assert second["scope"] == first["scope"]
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    # The used refresh token is dead for good ...
    reused = await refresh(client, first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    # ... the old access token stopped working at once, and the new one works.
    assert (
        await AdminApi(client, MAIN_SHOP, first["access_token"]).post("{ shop { name } }")
    ).status_code == 401
    assert (
        await AdminApi(client, MAIN_SHOP, second["access_token"]).post("{ shop { name } }")
    ).status_code == 200
    # The chain goes on with the new refresh token.
    assert (await refresh(client, second["refresh_token"])).status_code == 200


async def test_refresh_with_a_wrong_secret_is_401_and_leaves_the_token_usable(
    client: httpx.AsyncClient,
) -> None:
    pair = await install(client)
    refused = await token_request(
        client, grant_type="refresh_token", refresh_token=pair["refresh_token"], client_secret="wrong"
    )
    assert refused.status_code == 401
    assert (await refresh(client, pair["refresh_token"])).status_code == 200


async def test_refresh_token_expires(client: httpx.AsyncClient, epoch_clock: FakeClock) -> None:
    pair = await install(client)
    epoch_clock.advance(pair["refresh_token_expires_in"])
    response = await refresh(client, pair["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_control_expiry_ends_access_tokens_but_refresh_still_works(client: httpx.AsyncClient) -> None:
    pair = await install(client)
    expired = await client.post(f"/_sandbox/shops/{MAIN_SHOP}/tokens/expire")
    assert expired.status_code == 200
    assert expired.json()["expired"] >= 1
    assert (
        await AdminApi(client, MAIN_SHOP, pair["access_token"]).post("{ shop { name } }")
    ).status_code == 401
    renewed = await refresh(client, pair["refresh_token"])
    assert renewed.status_code == 200
    admin = AdminApi(client, MAIN_SHOP, renewed.json()["access_token"])
    assert (await admin.post("{ shop { name } }")).status_code == 200


# -- narrowed scopes ------------------------------------------------------------------------


async def test_narrowed_scopes_show_in_the_answer_and_in_access_scopes(client: httpx.AsyncClient) -> None:
    narrowed = await client.put(
        f"/_sandbox/shops/{MAIN_SHOP}/oauth/granted-scopes",
        json={"scopes": ["read_products", "write_orders", "write_themes"]},
    )
    assert narrowed.status_code == 200
    page = (await client.get(authorize_path(), params=authorize_params())).text
    assert "approving grants only" in page
    body = await install(client)
    # write_themes was never asked for; read_products is covered by write_products.
    assert body["scope"] == "read_products,write_orders"
    admin = AdminApi(client, MAIN_SHOP, body["access_token"])
    assert access_scopes(await admin.graphql(SCOPES_QUERY)) == ["read_products", "write_orders"]
    denied = await admin.graphql('mutation { productCreate(product: {title: "X"}) { product { id } } }')
    assert denied["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    # Refreshing keeps the narrowed grant; null asks for everything again.
    assert (await refresh(client, body["refresh_token"])).json()["scope"] == "read_products,write_orders"
    await client.put(f"/_sandbox/shops/{MAIN_SHOP}/oauth/granted-scopes", json={"scopes": None})
    assert (await install(client))["scope"] == REQUIRED_SCOPES


async def test_granted_scopes_setting_is_validated(client: httpx.AsyncClient) -> None:
    path = f"/_sandbox/shops/{MAIN_SHOP}/oauth/granted-scopes"
    assert (await client.put(path, json={"scopes": ["everything"]})).status_code == 400
    assert (await client.put(path, json={"scopes": 3})).status_code == 400
    assert (await client.put(path, json={})).status_code == 400


# -- faults ---------------------------------------------------------------------------------


async def test_oauth_500_fault_hits_the_token_endpoint_then_clears(client: httpx.AsyncClient) -> None:
    await add_oauth_fault(client, kind="http_500")
    code = await authorization_code(client)  # the consent step is not faulted
    failed = await token_request(client, code=code, expiring="1")
    assert failed.status_code == 500
    # The code was not used by the failed call: the app's retry succeeds.
    assert (await token_request(client, code=code, expiring="1")).status_code == 200


async def test_oauth_fault_leaves_graphql_alone(client: httpx.AsyncClient) -> None:
    pair = await install(client)
    await add_oauth_fault(client, kind="http_500")
    assert (
        await AdminApi(client, MAIN_SHOP, pair["access_token"]).post("{ shop { name } }")
    ).status_code == 200
    assert (await refresh(client, pair["refresh_token"])).status_code == 500


async def test_oauth_timeout_fault_stalls_the_token_endpoint(client: httpx.AsyncClient) -> None:
    pair = await install(client)
    await add_oauth_fault(client, kind="timeout", seconds=30)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await refresh(client, pair["refresh_token"])
    log = await token_log(client, grant_type="refresh_token")
    assert [(r["fault"], r["outcome"]) for r in log] == [("timeout", "stalled")]
    # The abandoned call never reached the refresh: the token still works once.
    assert (await refresh(client, pair["refresh_token"])).status_code == 200


async def test_oauth_timeout_fault_answers_normally_after_the_stall(
    make_config: Callable[..., ShopifySandboxConfig],
) -> None:
    stalls: list[float] = []

    async def record_stall(seconds: float) -> None:
        stalls.append(seconds)

    app = create_shopify_sandbox(make_config(fault_sleep=record_stall))
    async with running(app), asgi_client(app) as client:
        await add_oauth_fault(client, kind="timeout", seconds=12)
        body = await install(client)
        assert body["access_token"].startswith("shpat_")
        assert stalls == [12.0]


async def test_throttle_faults_cannot_target_oauth(client: httpx.AsyncClient) -> None:
    response = await client.post("/_sandbox/faults", json={"kind": "throttle", "path": "oauth"})
    assert response.status_code == 400


# -- request log ----------------------------------------------------------------------------


async def test_token_requests_are_recorded_without_token_values(client: httpx.AsyncClient) -> None:
    pair = await install(client)
    second = (await refresh(client, pair["refresh_token"])).json()
    await refresh(client, pair["refresh_token"])  # reused: refused
    await token_request(client, code="nope", client_secret="wrong")
    response = await client.get("/_sandbox/oauth/requests")
    log = response.json()["requests"]
    assert [(r["grant_type"], r["outcome"], r["status_code"]) for r in log] == [
        ("authorization_code", "issued", 200),
        ("refresh_token", "issued", 200),
        ("refresh_token", "invalid_grant", 400),
        ("authorization_code", "invalid_client", 401),
    ]
    assert all(r["shop"] == MAIN_SHOP for r in log)
    assert log[0]["expiring"] is True
    assert log[0]["at"] == "2026-11-23T00:00:00Z"
    for secret in (pair["access_token"], pair["refresh_token"], second["access_token"], SECRET):
        assert secret not in response.text
    refreshes = await token_log(client, grant_type="refresh_token", shop=MAIN_SHOP)
    assert len(refreshes) == 2
    await client.post("/_sandbox/reset")
    assert await token_log(client) == []


# -- state ------------------------------------------------------------------------------------


async def test_oauth_tokens_survive_a_restart_with_a_state_file(
    make_config: Callable[..., ShopifySandboxConfig], tmp_path: Any, epoch_clock: FakeClock
) -> None:
    config = make_config(state_file=tmp_path / "shopify.json")
    first = create_shopify_sandbox(config)
    async with running(first), asgi_client(first) as client:
        pair = await install(client)
    second = create_shopify_sandbox(config)
    async with running(second), asgi_client(second) as client:
        admin = AdminApi(client, MAIN_SHOP, pair["access_token"])
        assert access_scopes(await admin.graphql(SCOPES_QUERY)) == REQUIRED_SCOPES.split(",")
        epoch_clock.advance(3600)
        assert (await admin.post("{ shop { name } }")).status_code == 401
        assert (await refresh(client, pair["refresh_token"])).status_code == 200
    assert epoch_clock.now == EPOCH_START + 3600
