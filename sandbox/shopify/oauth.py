"""Shopify's OAuth endpoints and the admin's "install app" link, served per shop.

- `GET /shops/{shop}/admin/oauth/authorize?client_id&scope&redirect_uri&state`: the
  consent page ("FunnelSync wants to access demo-store").
- `POST` to the same path (the page's form): approve; 302 to `redirect_uri` with
  `code`, `hmac`, `host`, `shop`, `state`, `timestamp`, signed like the install request.
- `POST /shops/{shop}/admin/oauth/access_token`: code exchange (`expiring=1` for
  expiring offline tokens), token exchange (an embedded app's ID token, grant type
  `urn:ietf:params:oauth:grant-type:token-exchange`) and `grant_type=refresh_token`;
  form-encoded, JSON or query.
- `GET /shops/{shop}/admin/apps/install`: what the admin does when the merchant clicks
  "Install": a 302 to a freshly signed `{app_url}/shopify/install?...`.

The rules live in sandbox/shopify/tokens.py; this module is the HTTP around them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import MediaType, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from sandbox.shopify.admin_api import internal_error_body, json_response
from sandbox.shopify.faults import FaultKind, PathKind
from sandbox.shopify.install import host_param, query_hmac
from sandbox.shopify.models import Shop
from sandbox.shopify.runtime import SandboxDep, ShopifySandbox
from sandbox.shopify.tokens import (
    TOKEN_EXCHANGE_GRANT,
    OAuthError,
    describe_scope,
    granted_scopes,
    malformed_scopes,
    parse_scopes,
    redirect_allowed,
)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
AUTHORIZE_FIELDS = ("client_id", "scope", "redirect_uri", "state")


class Refusal(Exception):
    """The authorize request cannot go on: shown as a page, never redirected."""

    def __init__(self, status_code: int, heading: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.status_code, self.heading, self.message, self.detail = status_code, heading, message, detail


@dataclass(frozen=True)
class AuthorizeRequest:
    shop: Shop
    client_id: str
    scopes: list[str]
    redirect_uri: str
    state: str | None


def message_page(status_code: int, heading: str, message: str, detail: str = "") -> Template:
    return Template(
        template_name="message.html",
        context={"heading": heading, "message": message, "detail": detail},
        status_code=status_code,
        headers=NO_STORE,
        media_type=MediaType.HTML,
    )


def _shop_or_refuse(sandbox: ShopifySandbox, shop_domain: str) -> Shop:
    shop = sandbox.store.shop(shop_domain)
    if shop is None:
        raise Refusal(404, "Store not found", f"There is no store at {shop_domain} in this sandbox.")
    return shop


def check_authorize(sandbox: ShopifySandbox, shop_domain: str, params: Mapping[str, str]) -> AuthorizeRequest:
    """Shopify's checks before consent, in its order: shop, app, redirect URI, scopes."""
    shop = _shop_or_refuse(sandbox, shop_domain)
    config = sandbox.config
    client_id = params.get("client_id", "")
    if client_id != config.api_key:
        raise Refusal(
            400,
            "This app cannot be installed",
            f"Oauth error invalid_request: Could not find an app with client_id “{client_id}”."
            if client_id
            else "Oauth error invalid_request: client_id is missing.",
        )
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_allowed(redirect_uri, config.app_url):
        raise Refusal(
            400,
            "This app cannot be installed",
            "Oauth error invalid_request: The redirect_uri is not whitelisted.",
            f"“{redirect_uri}” is not under the app's URL {config.app_base}/ (same scheme, "
            "host and port; a path under the app's path)."
            if redirect_uri
            else "The request has no redirect_uri.",
        )
    scopes = parse_scopes(params.get("scope", ""))
    if not scopes:
        raise Refusal(
            400, "This app cannot be installed", "Oauth error invalid_scope: no scope was requested."
        )
    bad = malformed_scopes(scopes)
    if bad:
        raise Refusal(
            400,
            "This app cannot be installed",
            f"Oauth error invalid_scope: The access scope is invalid: {', '.join(bad)}.",
        )
    return AuthorizeRequest(shop, client_id, scopes, redirect_uri, params.get("state") or None)


def _query(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {key: str(request.query_params.get(key)) for key in request.query_params}


@get("/shops/{shop_domain:str}/admin/oauth/authorize", media_type=MediaType.HTML)
async def authorize_page(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> Template:
    """The consent screen. Refusals are pages, never redirects to an unchecked URI."""
    try:
        ask = check_authorize(sandbox, shop_domain, _query(request))
    except Refusal as refusal:
        return message_page(refusal.status_code, refusal.heading, refusal.message, refusal.detail)
    config = sandbox.config
    narrowed = ask.shop.granted_scopes
    hidden = [
        ("client_id", ask.client_id),
        ("scope", ",".join(ask.scopes)),
        ("redirect_uri", ask.redirect_uri),
        *([("state", ask.state)] if ask.state is not None else []),
    ]
    return Template(
        template_name="authorize.html",
        context={
            "app_name": config.app_name,
            "store": ask.shop.domain.removesuffix(".myshopify.com"),
            "shop_domain": ask.shop.domain,
            "shop_name": ask.shop.name,
            "scopes": [{"handle": s, "description": describe_scope(s)} for s in ask.scopes],
            "granted": granted_scopes(ask.scopes, narrowed) if narrowed is not None else None,
            "redirect_uri": ask.redirect_uri,
            "action": f"/shops/{ask.shop.domain}/admin/oauth/authorize",
            "hidden": hidden,
            "cancel_url": "/",
        },
        headers=NO_STORE,
    )


def callback_url(redirect_uri: str, params: Mapping[str, str], secret: str) -> str:
    """`redirect_uri` with Shopify's callback parameters added and everything signed."""
    parts = urlsplit(redirect_uri)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(params)
    query.pop("hmac", None)
    query["hmac"] = query_hmac(query, secret)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


@post("/shops/{shop_domain:str}/admin/oauth/authorize", status_code=302)
async def approve(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> Response[Any]:
    """The merchant clicked "Install app": a code for the granted scopes, back to the app."""
    try:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        form = {}
    try:
        ask = check_authorize(sandbox, shop_domain, form)
    except Refusal as refusal:
        return message_page(refusal.status_code, refusal.heading, refusal.message, refusal.detail)
    config = sandbox.config
    granted = granted_scopes(ask.scopes, ask.shop.granted_scopes)
    code = sandbox.oauth.issue_code(ask.shop, ask.client_id, granted)
    params = {
        "code": code,
        "host": host_param(ask.shop.domain),
        "shop": ask.shop.domain,
        "timestamp": str(int(config.epoch_clock())),
    }
    if ask.state is not None:
        params["state"] = ask.state
    return Redirect(
        path=callback_url(ask.redirect_uri, params, config.api_secret), status_code=302, headers=NO_STORE
    )


# -- the token endpoint -----------------------------------------------------------------


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str | int | float):
        return str(value)
    return None


async def token_params(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Query string, then a form-encoded or JSON body (the body wins)."""
    params = _query(request)
    raw = await request.body()
    if not raw.strip():
        return params
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            body = {k: v for k, v in ((str(k), _scalar(v)) for k, v in data.items()) if v is not None}
        else:
            body = dict(parse_qsl(raw.decode(), keep_blank_values=True))
    except (ValueError, UnicodeDecodeError) as exc:
        raise OAuthError(400, "invalid_request", "The request body could not be read") from exc
    return {**params, **body}


def _required(params: Mapping[str, str], *names: str) -> None:
    missing = [name for name in names if not params.get(name)]
    if missing:
        raise OAuthError(400, "invalid_request", f"Missing required parameter: {', '.join(missing)}")


@post("/shops/{shop_domain:str}/admin/oauth/access_token", status_code=200)
async def access_token(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> Response[bytes]:
    shop = sandbox.store.shop(shop_domain)
    if shop is None:
        return json_response({"errors": "Not Found"}, 404)
    unreadable: OAuthError | None = None
    try:
        params = await token_params(request)
    except OAuthError as exc:
        params, unreadable = {}, exc
    grant_type = params.get("grant_type") or "authorization_code"
    expiring = grant_type == "refresh_token" or params.get("expiring", "").lower() in ("1", "true")

    fault = sandbox.faults.take(shop.domain, PathKind.OAUTH, (FaultKind.HTTP_500, FaultKind.TIMEOUT))
    entry = sandbox.oauth.record(
        shop.domain, grant_type, expiring=expiring, fault=fault.kind.value if fault else None
    )
    if fault is not None and fault.kind is FaultKind.HTTP_500:
        entry.outcome, entry.status_code = "http_500", 500
        return json_response(internal_error_body(request.headers.get("x-request-id", "sandbox")), 500)
    if fault is not None and fault.kind is FaultKind.TIMEOUT:
        entry.outcome = "stalled"  # stays so if the client gives up first
        await sandbox.config.fault_sleep(fault.seconds)

    try:
        if unreadable is not None:
            raise unreadable
        _required(params, "client_id", "client_secret")
        sandbox.oauth.check_client(params["client_id"], params["client_secret"])
        if grant_type == "refresh_token":
            _required(params, "refresh_token")
            body = sandbox.oauth.refresh(shop, params["refresh_token"], client_id=params["client_id"])
        elif grant_type == "authorization_code":
            _required(params, "code")
            body = sandbox.oauth.exchange_code(
                shop, params["code"], client_id=params["client_id"], expiring=expiring
            )
        elif grant_type == TOKEN_EXCHANGE_GRANT:
            _required(params, "subject_token", "subject_token_type", "requested_token_type")
            body = sandbox.oauth.exchange_id_token(
                shop,
                client_id=params["client_id"],
                subject_token=params["subject_token"],
                subject_token_type=params["subject_token_type"],
                requested_token_type=params["requested_token_type"],
                expiring=expiring,
            )
        else:
            raise OAuthError(400, "unsupported_grant_type", f"The grant type {grant_type} is not supported")
    except OAuthError as error:
        entry.outcome, entry.status_code = error.error, error.status_code
        return json_response(error.body(), error.status_code, dict(NO_STORE))
    entry.outcome, entry.status_code = "issued", 200
    await sandbox.save()
    return json_response(body, 200, dict(NO_STORE))


# -- the admin's install button ---------------------------------------------------------


@get("/shops/{shop_domain:str}/admin/apps/install", status_code=302)
async def install_app(shop_domain: FromPath[str], sandbox: SandboxDep) -> Response[Any]:
    """Like the Shopify admin: the install request is signed when the merchant clicks, so
    the link on the start page never ages out of the app's 90 s window."""
    shop = sandbox.store.shop(shop_domain)
    if shop is None:
        return message_page(404, "Store not found", f"There is no store at {shop_domain} in this sandbox.")
    return Redirect(path=sandbox.install_url(shop), status_code=302, headers=NO_STORE)


OAUTH_HANDLERS = [authorize_page, approve, access_token, install_app]
