"""The store admin: the pages a merchant uses to install and open the app, as in Shopify's admin.

`{public_url}/admin/store/{store}` stands for `https://admin.shopify.com/store/{store}`
(the decoded `host` parameter says `admin.shopify.com/store/{store}`):

- `GET .../apps`: the installed apps, each opened by its `apps/{handle}` link, and the
  way to the app's listing when it is not installed.
- `GET .../app-store/{handle}`: the app's listing, *Install* (POST `.../install`):
  Shopify-managed installation. The toml's scopes are granted at once; no consent screen,
  no OAuth redirect, no code. Then the app opens.
- `GET .../apps/{handle}[/{path}]`: the admin with the app in an iframe at
  `{application_url}{path}?embedded=1&hmac&host&id_token&locale&session&shop&timestamp`,
  signed like every Shopify query (hex HMAC-SHA256 over the sorted pairs without `hmac`).
  An app that is not installed sends the merchant to its listing.
- `POST .../apps/{handle}/id-token`: a fresh ID token for the app in this admin session;
  the admin page's script asks for one whenever App Bridge in the iframe does.
- `GET /cdn/app-bridge.js`: the App Bridge stand-in the app loads in the iframe.
- `GET /store/{store}/...`: the same admin at the address form of `https://admin.shopify.com`
  (`{admin origin}/store/{store}/apps/{handle}/...`), which apps build for links back into the
  admin, e.g. a billing `returnUrl`; it redirects to the `/admin/store/...` pages above.

No merchant login: whoever opens the admin page is the shop's one merchant user.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import MediaType, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from sandbox.shopify.admin_api import json_response
from sandbox.shopify.config import ShopifySandboxConfig
from sandbox.shopify.id_tokens import admin_session_id, merchant_user_id, mint_id_token
from sandbox.shopify.install import host_param, query_hmac
from sandbox.shopify.models import Shop
from sandbox.shopify.oauth import NO_STORE, message_page
from sandbox.shopify.runtime import SandboxDep, ShopifySandbox
from sandbox.shopify.tokens import describe_scope

STATIC = Path(__file__).parent / "static"
LOCALE = "en"
# What the admin adds to the app's URL; never passed through from the admin's own URL.
EMBEDDED_PARAMS = frozenset(
    {
        "embedded",
        "hmac",
        "host",
        "id_token",
        "locale",
        "session",
        "shop",
        "timestamp",
        "protocol",
        "appLoadId",
    }
)


def app_handle(config: ShopifySandboxConfig) -> str:
    """The app's handle in admin URLs (`apps/{handle}`), from its name, as Shopify makes one."""
    return re.sub(r"[^a-z0-9]+", "-", config.app_name.lower()).strip("-") or "app"


def store_name(shop: Shop) -> str:
    return shop.domain.removesuffix(".myshopify.com")


def admin_base(shop: Shop) -> str:
    return f"/admin/store/{store_name(shop)}"


def app_home_url(
    config: ShopifySandboxConfig, shop: Shop, *, app_path: str = "", extra_query: str = ""
) -> str:
    """The URL the admin loads in its iframe: the app's URL (and sub-path), a fresh ID
    token and the rest of Shopify's parameters, signed with the app's secret."""
    base = urlsplit(config.app_home_url)
    path = base.path or "/"
    if app_path.strip("/"):
        path = path.rstrip("/") + "/" + app_path.lstrip("/")
    query = dict(parse_qsl(base.query, keep_blank_values=True))
    query.update(
        (k, v) for k, v in parse_qsl(extra_query, keep_blank_values=True) if k not in EMBEDDED_PARAMS
    )
    user = merchant_user_id(shop)
    query.update(
        {
            "embedded": "1",
            "host": host_param(shop.domain),
            "id_token": mint_id_token(config, shop, user_id=user),
            "locale": LOCALE,
            "session": admin_session_id(shop, user),
            "shop": shop.domain,
            "timestamp": str(int(config.epoch_clock())),
        }
    )
    query["hmac"] = query_hmac(query, config.api_secret)
    return urlunsplit((base.scheme, base.netloc, path, urlencode(sorted(query.items())), ""))


def _shop_of(sandbox: ShopifySandbox, store: str) -> Shop | None:
    return sandbox.store.shop(f"{store}.myshopify.com")


def _no_store(store: str) -> Template:
    return message_page(404, "Store not found", f"There is no store {store}.myshopify.com in this sandbox.")


def _no_app(handle: str) -> Template:
    return message_page(404, "App not found", f"No app with the handle “{handle}” is listed in this sandbox.")


def _context(sandbox: ShopifySandbox, shop: Shop, **extra: Any) -> dict[str, Any]:
    config = sandbox.config
    handle = app_handle(config)
    return {
        "shop_name": shop.name,
        "shop_domain": shop.domain,
        "store": store_name(shop),
        "admin_base": admin_base(shop),
        "app_name": config.app_name,
        "app_handle": handle,
        "installed": shop.installed_scopes is not None,
        "listing_url": f"{admin_base(shop)}/app-store/{handle}",
        "open_url": f"{admin_base(shop)}/apps/{handle}",
        **extra,
    }


@get("/admin/store/{store:str}", status_code=302)
async def store_home(store: FromPath[str]) -> Redirect:
    return Redirect(path=f"/admin/store/{store}/apps", status_code=302)


@get("/admin/store/{store:str}/apps", media_type=MediaType.HTML)
async def installed_apps(store: FromPath[str], sandbox: SandboxDep) -> Template:
    shop = _shop_of(sandbox, store)
    if shop is None:
        return _no_store(store)
    return Template(
        template_name="admin_apps.html", context=_context(sandbox, shop, section="apps"), headers=NO_STORE
    )


@get("/admin/store/{store:str}/app-store/{handle:str}", media_type=MediaType.HTML)
async def app_listing(store: FromPath[str], handle: FromPath[str], sandbox: SandboxDep) -> Template:
    shop = _shop_of(sandbox, store)
    if shop is None:
        return _no_store(store)
    if handle != app_handle(sandbox.config):
        return _no_app(handle)
    scopes = [{"handle": s, "description": describe_scope(s)} for s in sandbox.config.app_scopes]
    return Template(
        template_name="admin_listing.html",
        context=_context(sandbox, shop, section="listing", scopes=scopes),
        headers=NO_STORE,
    )


@post("/admin/store/{store:str}/app-store/{handle:str}/install", status_code=303)
async def install_from_listing(
    store: FromPath[str], handle: FromPath[str], sandbox: SandboxDep
) -> Response[Any]:
    """Shopify-managed installation: the toml's scopes, no OAuth redirect; the app opens."""
    shop = _shop_of(sandbox, store)
    if shop is None:
        return _no_store(store)
    if handle != app_handle(sandbox.config):
        return _no_app(handle)
    sandbox.install_managed(shop)
    await sandbox.save()
    return Redirect(path=f"{admin_base(shop)}/apps/{handle}", status_code=303, headers=NO_STORE)


async def _open_app(
    request: Request[Any, Any, Any], sandbox: ShopifySandbox, store: str, handle: str, app_path: str
) -> Response[Any]:
    shop = _shop_of(sandbox, store)
    if shop is None:
        return _no_store(store)
    config = sandbox.config
    if handle != app_handle(config):
        return _no_app(handle)
    if shop.installed_scopes is None:
        return Redirect(path=f"{admin_base(shop)}/app-store/{handle}", status_code=303, headers=NO_STORE)
    home = urlsplit(config.app_home_url)
    admin_config = {
        "appOrigin": f"{home.scheme}://{home.netloc}",
        "appHomePath": home.path.rstrip("/"),
        "adminAppPath": f"{admin_base(shop)}/apps/{handle}",
        "idTokenUrl": f"{admin_base(shop)}/apps/{handle}/id-token",
    }
    return Template(
        template_name="admin_app.html",
        context=_context(
            sandbox,
            shop,
            section="app",
            frame_url=app_home_url(config, shop, app_path=app_path, extra_query=request.url.query),
            # In a <script type="application/json">: "</" must not end the element.
            admin_config=json.dumps(admin_config).replace("</", "<\\/"),
        ),
        headers=NO_STORE,
    )


@get("/admin/store/{store:str}/apps/{handle:str}", media_type=MediaType.HTML)
async def open_app(
    store: FromPath[str], handle: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> Response[Any]:
    return await _open_app(request, sandbox, store, handle, "")


@get("/admin/store/{store:str}/apps/{handle:str}/{app_path:path}", media_type=MediaType.HTML)
async def open_app_at(
    store: FromPath[str],
    handle: FromPath[str],
    app_path: FromPath[str],
    request: Request[Any, Any, Any],
    sandbox: SandboxDep,
) -> Response[Any]:
    """A deep link into the app (what the admin's address bar shows after navigation)."""
    return await _open_app(request, sandbox, store, handle, app_path)


@get("/store/{store:str}/{admin_path:path}", status_code=302)
async def admin_shopify_address(
    store: FromPath[str], admin_path: FromPath[str], request: Request[Any, Any, Any]
) -> Redirect:
    """An address of Shopify's admin origin (`/store/{store}/apps/{handle}/...`): the sandbox's
    admin lives under `/admin`, so the same address there, query kept."""
    query = request.url.query
    return Redirect(
        path=f"/admin/store/{store}{admin_path}" + (f"?{query}" if query else ""),
        status_code=302,
        headers=NO_STORE,
    )


@post("/admin/store/{store:str}/apps/{handle:str}/id-token", status_code=200)
async def fresh_id_token(store: FromPath[str], handle: FromPath[str], sandbox: SandboxDep) -> Response[bytes]:
    shop = _shop_of(sandbox, store)
    if shop is None or handle != app_handle(sandbox.config):
        return json_response({"error": "not_found"}, 404, dict(NO_STORE))
    if shop.installed_scopes is None:
        return json_response({"error": "app_not_installed"}, 409, dict(NO_STORE))
    return json_response({"idToken": mint_id_token(sandbox.config, shop)}, 200, dict(NO_STORE))


@get("/cdn/app-bridge.js")
async def app_bridge_script() -> Response[bytes]:
    return Response(
        (STATIC / "app-bridge.js").read_bytes(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


STORE_ADMIN_HANDLERS = [
    store_home,
    installed_apps,
    app_listing,
    install_from_listing,
    open_app,
    open_app_at,
    admin_shopify_address,
    fresh_id_token,
    app_bridge_script,
]
