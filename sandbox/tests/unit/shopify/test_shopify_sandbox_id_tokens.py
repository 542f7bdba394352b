"""The Shopify sandbox's ID tokens without HTTP: the claims Shopify documents, and what
the token endpoint refuses, on a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.shopify.config import ShopifySandboxConfig
from sandbox.shopify.id_tokens import InvalidIdToken, id_token_claims, mint_id_token, read_id_token, sign
from sandbox.shopify.models import PlanTier, Shop

SECRET = "shpss_0123456789abcdef0123456789abcdef"
CLIENT = "dev-shopify-key"


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_392_000.0

    def __call__(self) -> float:
        return self.now


def make_shop(domain: str = "demo-store.myshopify.com", shop_id: int = 1) -> Shop:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    return Shop(shop_id, domain, "Demo", "owner@example.com", PlanTier.STANDARD, "USD", created)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config(clock: Clock) -> ShopifySandboxConfig:
    return ShopifySandboxConfig(api_secret=SECRET, epoch_clock=clock)


def test_claims_are_shopifys_session_token_claims(config: ShopifySandboxConfig, clock: Clock) -> None:
    claims = read_id_token(config, mint_id_token(config, make_shop()), shop=make_shop(), client_id=CLIENT)
    assert claims["iss"] == "https://demo-store.myshopify.com/admin"
    assert claims["dest"] == "https://demo-store.myshopify.com"
    assert claims["aud"] == CLIENT
    assert claims["sub"] == "70000001"
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (
        int(clock.now),
        int(clock.now),
        int(clock.now) + 60,
    )
    assert len(claims["jti"]) == 36
    assert len(claims["sid"]) == 64


def test_every_token_has_its_own_jti_and_the_same_admin_session(config: ShopifySandboxConfig) -> None:
    shop = make_shop()
    first, second = (
        read_id_token(config, mint_id_token(config, shop), shop=shop, client_id=CLIENT) for _ in "ab"
    )
    assert first["jti"] != second["jti"]
    assert first["sid"] == second["sid"]


def test_a_token_expires_after_one_minute_without_leeway(config: ShopifySandboxConfig, clock: Clock) -> None:
    shop = make_shop()
    token = mint_id_token(config, shop)
    clock.now += 59
    read_id_token(config, token, shop=shop, client_id=CLIENT)
    clock.now += 1
    with pytest.raises(InvalidIdToken, match="expired"):
        read_id_token(config, token, shop=shop, client_id=CLIENT)


def test_a_token_not_valid_yet_is_refused(config: ShopifySandboxConfig, clock: Clock) -> None:
    shop = make_shop()
    token = sign(id_token_claims(config, shop, now=clock.now + 30), SECRET)
    with pytest.raises(InvalidIdToken, match="not valid yet"):
        read_id_token(config, token, shop=shop, client_id=CLIENT)


@pytest.mark.parametrize(
    ("bend", "why"),
    [
        ({"aud": "another-app"}, "another app"),
        ({"dest": "https://other.myshopify.com"}, "another shop"),
        ({"iss": "https://other.myshopify.com/admin"}, "another shop"),
        ({"sub": ""}, "no user"),
        ({"exp": "soon"}, "exp"),
    ],
)
def test_tokens_this_admin_could_not_have_given_this_app_are_refused(
    config: ShopifySandboxConfig, clock: Clock, bend: dict[str, object], why: str
) -> None:
    shop = make_shop()
    token = sign({**id_token_claims(config, shop, now=clock.now), **bend}, SECRET)
    with pytest.raises(InvalidIdToken, match=why):
        read_id_token(config, token, shop=shop, client_id=CLIENT)


def test_a_token_signed_with_another_secret_or_algorithm_is_refused(
    config: ShopifySandboxConfig, clock: Clock
) -> None:
    shop = make_shop()
    forged = sign(id_token_claims(config, shop, now=clock.now), "shpss_ffffffffffffffffffffffffffffffff")
    unsigned = forged.rsplit(".", 1)[0] + "."
    for token in (forged, unsigned, "not-a-jwt"):
        with pytest.raises(InvalidIdToken, match="malformed or its signature"):
            read_id_token(config, token, shop=shop, client_id=CLIENT)
