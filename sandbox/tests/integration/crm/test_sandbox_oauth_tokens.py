"""The sandboxes' OAuth 2.0 token endpoint, driven the way the product drives it (authlib)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from authlib.integrations.base_client.errors import OAuthError

from sandbox.common.directory import MemberInput
from sandbox.tests.integration.crm.sandbox_crm_support import (
    AUTHLIB_HTTPX_WARNING,
    JWT_BEARER,
    AppKey,
    Harness,
    basic_auth,
    bearer,
    new_key,
    running_crm,
)

pytestmark = pytest.mark.filterwarnings(AUTHLIB_HTTPX_WARNING)


@pytest.fixture
async def crm() -> AsyncIterator[Harness]:
    async with running_crm() as harness:
        yield harness


def assert_oauth_error(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert body["error_description"]
    assert response.headers["cache-control"] == "no-store"
    return body


# -- client credentials -------------------------------------------------------------------


async def test_authlib_client_gets_an_app_token_with_client_secret_basic(crm: Harness) -> None:
    client = crm.oauth_client()
    token = await client.fetch_token(crm.token_url, grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert token["scope"] == "users:read users:write"
    assert token["access_token"].startswith("crm_at_")
    assert "refresh_token" not in token


async def test_authlib_client_gets_an_app_token_with_client_secret_post(crm: Harness) -> None:
    client = crm.oauth_client(auth_method="client_secret_post")
    token = await client.fetch_token(crm.token_url, grant_type="client_credentials")
    response = await crm.http.get("/api/v1/users", headers=bearer(token["access_token"]))
    assert response.status_code == 200


async def test_wrong_client_secret_is_401_invalid_client_with_challenge(crm: Harness) -> None:
    response = await crm.post_token({"grant_type": "client_credentials"}, auth=(crm.client_id, "wrong"))
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic ")


async def test_unknown_client_by_post_is_401_invalid_client(crm: Harness) -> None:
    response = await crm.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert "www-authenticate" in response.headers


async def test_authlib_client_raises_invalid_client_for_a_wrong_secret(crm: Harness) -> None:
    client = crm.oauth_client(client_secret="wrong")
    with pytest.raises(OAuthError) as raised:
        await client.fetch_token(crm.token_url, grant_type="client_credentials")
    assert raised.value.error == "invalid_client"


async def test_unsupported_grant_type_is_400_with_a_description(crm: Harness) -> None:
    response = await crm.post_token({"grant_type": "password"})
    body = assert_oauth_error(response, 400, "unsupported_grant_type")
    assert "password" in body["error_description"]


async def test_missing_grant_type_is_invalid_request(crm: Harness) -> None:
    assert_oauth_error(await crm.post_token({}), 400, "invalid_request")


async def test_json_token_request_is_invalid_request(crm: Harness) -> None:
    response = await crm.http.post(
        "/oauth/token",
        json={"grant_type": "client_credentials"},
        headers=basic_auth(crm.client_id, crm.client_secret),
    )
    assert_oauth_error(response, 400, "invalid_request")


async def test_scope_outside_the_clients_scopes_is_invalid_scope(crm: Harness) -> None:
    response = await crm.post_token({"grant_type": "client_credentials", "scope": "admin"})
    assert_oauth_error(response, 400, "invalid_scope")


async def test_narrower_requested_scope_is_granted_and_enforced(crm: Harness) -> None:
    response = await crm.post_token({"grant_type": "client_credentials", "scope": "users:read"})
    assert response.status_code == 200
    token = response.json()
    assert token["scope"] == "users:read"
    created = await crm.create_member(token["access_token"])
    assert created.status_code == 403
    assert created.json()["error"] == "insufficient_scope"


async def test_metadata_document_names_the_token_endpoint_and_grants(crm: Harness) -> None:
    response = await crm.http.get("/.well-known/oauth-authorization-server")
    metadata = response.json()
    assert metadata["token_endpoint"] == crm.token_url
    assert JWT_BEARER in metadata["grant_types_supported"]


# -- JWT bearer -----------------------------------------------------------------------------


async def test_authlib_client_exchanges_a_signed_assertion_for_a_user_token(crm: Harness) -> None:
    user = await crm.new_member()
    client = crm.oauth_client()
    assertion = crm.assertion_for(user["id"])
    token = await client.fetch_token(crm.token_url, grant_type=JWT_BEARER, assertion=assertion)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert "refresh_token" not in token
    me = await crm.http.get(f"/api/v1/users/{user['id']}", headers=bearer(token["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]


async def test_jwt_bearer_without_client_authentication_is_accepted(crm: Harness) -> None:
    user = await crm.new_member()
    response = await crm.http.post(
        "/oauth/token",
        data={"grant_type": JWT_BEARER, "assertion": crm.assertion_for(user["id"])},
    )
    assert response.status_code == 200, response.text


async def test_jwt_bearer_with_a_wrong_client_secret_is_invalid_client(crm: Harness) -> None:
    user = await crm.new_member()
    response = await crm.post_token(
        {"grant_type": JWT_BEARER, "assertion": crm.assertion_for(user["id"])},
        auth=(crm.client_id, "wrong"),
    )
    assert_oauth_error(response, 401, "invalid_client")


async def test_expired_assertion_is_invalid_grant(crm: Harness) -> None:
    user = await crm.new_member()
    assertion = crm.assertion_for(user["id"], issued_at=crm.clock() - 400, expires_in=300)
    body = assert_oauth_error(await crm.jwt_bearer(assertion), 400, "invalid_grant")
    assert "expired" in body["error_description"]


async def test_assertion_expires_when_the_sandbox_clock_moves_past_exp(crm: Harness) -> None:
    user = await crm.new_member()
    assertion = crm.assertion_for(user["id"], expires_in=60)
    crm.clock.advance(60 + 31)  # past exp and the 30 s leeway
    assert_oauth_error(await crm.jwt_bearer(assertion), 400, "invalid_grant")


async def test_authlib_default_one_hour_assertion_is_too_long_lived(crm: Harness) -> None:
    # JWTBearerGrant.sign defaults to exp = iat + 3600; the service allows 5 minutes.
    user = await crm.new_member()
    assertion = crm.assertion_for(user["id"], expires_in=3600)
    body = assert_oauth_error(await crm.jwt_bearer(assertion), 400, "invalid_grant")
    assert "300 seconds" in body["error_description"]


async def test_wrong_audience_is_invalid_grant(crm: Harness) -> None:
    user = await crm.new_member()
    assertion = crm.assertion_for(user["id"], audience="https://elsewhere.example/oauth/token")
    body = assert_oauth_error(await crm.jwt_bearer(assertion), 400, "invalid_grant")
    assert "aud" in body["error_description"]


async def test_unknown_kid_is_invalid_grant_after_one_refetch(crm: Harness) -> None:
    user = await crm.new_member()
    await crm.user_token(user["id"])  # the JWKS is now cached
    assert crm.key.jwks_requests == 1
    stranger = new_key("not-published")
    assertion = crm.assertion_for(user["id"], key=stranger)
    body = assert_oauth_error(await crm.jwt_bearer(assertion), 400, "invalid_grant")
    assert "kid" in body["error_description"]
    assert crm.key.jwks_requests == 2


async def test_cached_jwks_is_not_refetched_for_a_known_kid(crm: Harness) -> None:
    user = await crm.new_member()
    for _ in range(3):
        await crm.user_token(user["id"])
    assert crm.key.jwks_requests == 1
    assert (await crm.control("GET", "counters"))["jwks_fetches"] == 1


async def test_rotated_key_is_picked_up_by_refetching_on_its_new_kid(crm: Harness) -> None:
    user = await crm.new_member()
    await crm.user_token(user["id"])
    crm.key.rotate("app-key-2")
    assert await crm.user_token(user["id"])
    assert crm.key.jwks_requests == 2


async def test_bad_signature_is_invalid_grant(crm: Harness) -> None:
    user = await crm.new_member()
    # Signed by another key that claims the published kid.
    impostor = new_key(crm.key.key.kid or "")
    assertion = crm.assertion_for(user["id"], key=impostor, kid=crm.key.key.kid)
    assert_oauth_error(await crm.jwt_bearer(assertion), 400, "invalid_grant")


async def test_replayed_jti_is_invalid_grant(crm: Harness) -> None:
    user = await crm.new_member()
    assertion = crm.assertion_for(user["id"])
    assert (await crm.jwt_bearer(assertion)).status_code == 200
    body = assert_oauth_error(await crm.jwt_bearer(assertion), 400, "invalid_grant")
    assert "jti" in body["error_description"]


async def test_subject_of_another_client_is_invalid_grant(crm: Harness) -> None:
    other = crm.sandbox.directory().add(
        MemberInput("other.myshopify.com", "o@other.example", "Other", "other.myshopify.com"),
        client_id="another-client",
        id_prefix="usr",
        now=crm.clock(),
    )
    assertion = crm.assertion_for(other.id)
    body = assert_oauth_error(await crm.jwt_bearer(assertion), 400, "invalid_grant")
    assert "sub" in body["error_description"]


async def test_unknown_subject_is_invalid_grant(crm: Harness) -> None:
    assertion = crm.assertion_for("usr_does_not_exist")
    assert_oauth_error(await crm.jwt_bearer(assertion), 400, "invalid_grant")


async def test_unknown_issuer_is_invalid_grant(crm: Harness) -> None:
    user = await crm.new_member()
    response = await crm.http.post(
        "/oauth/token",
        data={"grant_type": JWT_BEARER, "assertion": crm.assertion_for(user["id"], issuer="x")},
    )
    assert_oauth_error(response, 400, "invalid_grant")


async def test_assertion_without_jti_is_invalid_grant(crm: Harness) -> None:
    user = await crm.new_member()
    assertion = crm.assertion_for(user["id"], claims={"jti": ""})
    assert_oauth_error(await crm.jwt_bearer(assertion), 400, "invalid_grant")


async def test_missing_assertion_is_invalid_request(crm: Harness) -> None:
    assert_oauth_error(await crm.post_token({"grant_type": JWT_BEARER}), 400, "invalid_request")


async def test_garbage_assertion_is_invalid_grant(crm: Harness) -> None:
    response = await crm.jwt_bearer("not.a.jwt")
    assert_oauth_error(response, 400, "invalid_grant")


async def test_jwks_exposing_a_private_key_is_refused() -> None:
    key = AppKey()
    key.expose_private = True
    async with running_crm(key=key) as crm:
        user = await crm.new_member()
        body = assert_oauth_error(await crm.jwt_bearer(crm.assertion_for(user["id"])), 400, "invalid_grant")
        assert "private" in body["error_description"]


async def test_user_token_cannot_be_used_as_an_app_token(crm: Harness) -> None:
    user = await crm.new_member()
    token = await crm.user_token(user["id"])
    response = await crm.http.get("/api/v1/users", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


async def test_assertion_with_a_nan_exp_is_invalid_grant(crm: Harness) -> None:
    # JSON parsers accept NaN, and NaN fails every comparison: it must not pass as an exp.
    user = await crm.new_member()
    assertion = crm.assertion_for(user["id"], claims={"exp": float("nan")})
    body = assert_oauth_error(await crm.jwt_bearer(assertion), 400, "invalid_grant")
    assert "numeric exp" in body["error_description"]
