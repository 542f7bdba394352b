"""The Shopify sandbox's OAuth rules without HTTP: scopes, redirect URIs, codes, rotation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.shopify.config import ShopifySandboxConfig
from sandbox.shopify.models import PlanTier, Shop
from sandbox.shopify.tokens import (
    INVALID_CODE,
    OAuthError,
    OAuthServer,
    covers,
    granted_scopes,
    malformed_scopes,
    parse_scopes,
    redirect_allowed,
)

APP = "http://127.0.0.1:8000"
CLIENT = "dev-shopify-key"


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_392_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock: Clock) -> OAuthServer:
    return OAuthServer(ShopifySandboxConfig(epoch_clock=clock))


def make_shop(domain: str = "demo-store.myshopify.com", shop_id: int = 1) -> Shop:
    return Shop(
        id=shop_id,
        domain=domain,
        name="Demo",
        email="owner@example.com",
        tier=PlanTier.STANDARD,
        currency_code="USD",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_scopes_parse_in_request_order_without_blanks_or_repeats() -> None:
    assert parse_scopes(" write_products, ,read_orders,write_products ") == ["write_products", "read_orders"]
    assert malformed_scopes(
        ["write_products", "unauthenticated_read_product_listings", "admin", "READ_X"]
    ) == [
        "admin",
        "READ_X",
    ]


def test_write_covers_read_but_not_the_other_way() -> None:
    assert covers(["write_products"], "read_products")
    assert covers(["write_products"], "write_products")
    assert not covers(["read_products"], "write_products")
    assert not covers(["write_products"], "read_orders")


def test_narrowed_scopes_keep_only_what_the_request_covers() -> None:
    asked = ["write_products", "write_orders"]
    assert granted_scopes(asked, None) == asked
    assert granted_scopes(asked, ["read_products", "write_customers"]) == ["read_products"]
    assert granted_scopes(asked, []) == []


@pytest.mark.parametrize(
    "redirect_uri",
    [
        f"{APP}/shopify/callback",
        "http://127.0.0.1:8000/",
        "HTTP://127.0.0.1:8000/shopify/callback?x=1",
        "http://127.0.0.1:8000/any/path/under/the/root",
    ],
)
def test_redirects_under_the_app_are_allowed(redirect_uri: str) -> None:
    assert redirect_allowed(redirect_uri, APP)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "",
        "/shopify/callback",
        "https://127.0.0.1:8000/shopify/callback",  # another scheme
        "http://127.0.0.1:8001/shopify/callback",  # another port
        "http://localhost:8000/shopify/callback",  # another host
        "http://127.0.0.1:8000.evil.test/shopify/callback",
        "http://user@127.0.0.1:8000/shopify/callback",
        "http://127.0.0.1:8000/shopify/callback#fragment",
        "http://127.0.0.1:notaport/",
        "javascript:alert(1)",
    ],
)
def test_redirects_elsewhere_are_refused(redirect_uri: str) -> None:
    assert not redirect_allowed(redirect_uri, APP)


def test_redirect_path_must_stay_under_the_apps_path() -> None:
    app = "https://apps.example.com/funnelsync"
    assert redirect_allowed("https://apps.example.com/funnelsync/shopify/callback", app)
    assert redirect_allowed("https://apps.example.com:443/funnelsync", app)
    assert not redirect_allowed("https://apps.example.com/funnelsync-evil/callback", app)
    assert not redirect_allowed("https://apps.example.com/other/callback", app)
    assert not redirect_allowed("https://apps.example.com/funnelsync/../other", app)
    assert not redirect_allowed("https://apps.example.com/funnelsync/%2e%2e/other", app)


def test_a_code_works_once(server: OAuthServer) -> None:
    shop = make_shop()
    code = server.issue_code(shop, CLIENT, ["write_products"])
    body = server.exchange_code(shop, code, client_id=CLIENT, expiring=True)
    assert body["scope"] == "write_products"
    with pytest.raises(OAuthError) as reused:
        server.exchange_code(shop, code, client_id=CLIENT, expiring=True)
    assert (reused.value.status_code, reused.value.error, reused.value.description) == (
        400,
        "invalid_request",
        INVALID_CODE,
    )


def test_a_code_is_bound_to_its_shop_and_client(server: OAuthServer) -> None:
    shop, other = make_shop(), make_shop("demo-plus.myshopify.com", 2)
    code = server.issue_code(shop, CLIENT, ["write_products"])
    for target, client in ((other, CLIENT), (shop, "another-client")):
        with pytest.raises(OAuthError):
            server.exchange_code(target, code, client_id=client, expiring=True)
    assert server.exchange_code(shop, code, client_id=CLIENT, expiring=False)["access_token"]


def test_a_code_expires_after_ten_minutes(server: OAuthServer, clock: Clock) -> None:
    shop = make_shop()
    fresh = server.issue_code(shop, CLIENT, ["write_products"])
    stale = server.issue_code(shop, CLIENT, ["write_products"])
    clock.now += 599
    assert server.exchange_code(shop, fresh, client_id=CLIENT, expiring=True)
    clock.now += 1
    with pytest.raises(OAuthError, match="not found or was already used"):
        server.exchange_code(shop, stale, client_id=CLIENT, expiring=True)


def test_expiring_tokens_expire_and_legacy_tokens_do_not(server: OAuthServer, clock: Clock) -> None:
    shop = make_shop()
    expiring = server.exchange_code(
        shop, server.issue_code(shop, CLIENT, ["read_products"]), client_id=CLIENT, expiring=True
    )
    legacy = server.exchange_code(
        shop, server.issue_code(shop, CLIENT, ["read_products"]), client_id=CLIENT, expiring=False
    )
    assert set(legacy) == {"access_token", "scope"}
    clock.now += 3599
    assert server.authenticate(shop, expiring["access_token"]) is not None
    clock.now += 1
    assert server.authenticate(shop, expiring["access_token"]) is None
    clock.now += 10 * 365 * 86400
    assert server.authenticate(shop, legacy["access_token"]) is not None


def test_refresh_rotates_and_kills_the_old_pair(server: OAuthServer) -> None:
    shop = make_shop()
    first = server.exchange_code(
        shop, server.issue_code(shop, CLIENT, ["write_products"]), client_id=CLIENT, expiring=True
    )
    second = server.refresh(shop, first["refresh_token"], client_id=CLIENT)
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == "write_products"
    assert server.authenticate(shop, first["access_token"]) is None
    assert server.authenticate(shop, second["access_token"]) is not None
    with pytest.raises(OAuthError) as reused:
        server.refresh(shop, first["refresh_token"], client_id=CLIENT)
    assert (reused.value.status_code, reused.value.error) == (400, "invalid_grant")


def test_refresh_tokens_expire(server: OAuthServer, clock: Clock) -> None:
    shop = make_shop()
    pair = server.exchange_code(
        shop, server.issue_code(shop, CLIENT, ["write_products"]), client_id=CLIENT, expiring=True
    )
    clock.now += pair["refresh_token_expires_in"]
    with pytest.raises(OAuthError) as expired:
        server.refresh(shop, pair["refresh_token"], client_id=CLIENT)
    assert expired.value.error == "invalid_grant"


def test_client_check_refuses_wrong_secret_and_unknown_client(server: OAuthServer) -> None:
    server.check_client(CLIENT, "dev-shopify-secret")
    for client_id, secret in ((CLIENT, "wrong"), ("someone-else", "dev-shopify-secret")):
        with pytest.raises(OAuthError) as refused:
            server.check_client(client_id, secret)
        assert (refused.value.status_code, refused.value.error) == (401, "invalid_client")


def test_expire_now_keeps_refresh_working_and_revoke_ends_everything(server: OAuthServer) -> None:
    shop = make_shop()
    pair = server.exchange_code(
        shop, server.issue_code(shop, CLIENT, ["write_products"]), client_id=CLIENT, expiring=True
    )
    assert server.expire_access_tokens(shop) == 1
    assert server.authenticate(shop, pair["access_token"]) is None
    renewed = server.refresh(shop, pair["refresh_token"], client_id=CLIENT)
    pending = server.issue_code(shop, CLIENT, ["write_products"])
    assert server.revoke_all(shop) == 1
    assert server.authenticate(shop, renewed["access_token"]) is None
    with pytest.raises(OAuthError):
        server.refresh(shop, renewed["refresh_token"], client_id=CLIENT)
    with pytest.raises(OAuthError):
        server.exchange_code(shop, pending, client_id=CLIENT, expiring=True)
