"""Control API under `/_sandbox/`: what tests and the demo use to steer the sandbox.

Not part of Shopify. JSON in, JSON out; errors are 400/404 with a `detail` message
(Litestar's error shape), merchant edits that fail validation are 422 with `userErrors`.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, delete, get, patch, post, put
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import FromPath, FromQuery

from sandbox.shopify import billing
from sandbox.shopify.admin_api import json_response
from sandbox.shopify.catalog import (
    PRODUCT_FIELDS,
    apply_product,
    apply_variant,
    create_product,
    delete_product,
    find_variant_in,
    user_error,
    validate_product,
    validate_variant_updates,
)
from sandbox.shopify.config import LATEST_API_VERSION
from sandbox.shopify.faults import ANY_SHOP, FaultKind, PathKind
from sandbox.shopify.id_tokens import id_token_claims, sign
from sandbox.shopify.models import Collection, PlanTier, Product, Shop, utcnow
from sandbox.shopify.payloads import (
    COMPLIANCE_TOPICS,
    DEFAULT_COMPLIANCE_CUSTOMER,
    TOPICS,
    collection_delete_payload,
    collection_payload,
    customers_data_request_payload,
    customers_redact_payload,
    product_payload,
    shop_redact_payload,
)
from sandbox.shopify.runtime import SandboxDep
from sandbox.shopify.seed import handleize
from sandbox.shopify.store_admin import app_home_url
from sandbox.shopify.tokens import malformed_scopes, parse_scopes


async def _body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ClientException(detail=f"Body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ClientException(detail="Body must be a JSON object")
    return data


def _shop(sandbox: SandboxDep, domain: str) -> Shop:
    shop = sandbox.store.shop(domain)
    if shop is None:
        raise NotFoundException(detail=f"No shop {domain}")
    return shop


def _product(shop: Shop, product_id: str) -> Product:
    product = shop.products.get(int(product_id)) if product_id.isdigit() else None
    if product is None:
        raise NotFoundException(detail=f"No product {product_id} in {shop.domain}")
    return product


def shop_summary(sandbox: SandboxDep, shop: Shop) -> dict[str, Any]:
    config = sandbox.config
    bucket = sandbox.bucket(shop)
    base_url = config.shop_base_url(shop.domain)
    return {
        "domain": shop.domain,
        "name": shop.name,
        "tier": shop.tier.value,
        "planDisplayName": shop.tier.display_name,
        "currencyCode": shop.currency_code,
        "productCount": len(shop.products),
        "variantCount": shop.variant_count,
        "collectionCount": len(shop.collections),
        "customerCount": len(shop.customers),
        "orderCount": len(shop.orders),
        "webhookSubscriptionCount": len(shop.webhook_subscriptions),
        "baseUrl": base_url,
        "graphqlUrl": f"{base_url}/admin/api/{LATEST_API_VERSION}/graphql.json",
        "installUrl": sandbox.install_url(shop),
        # The app's installation (OAuth or managed): its scopes, null while not installed.
        "installedScopes": shop.installed_scopes,
        "installRoute": f"{base_url}/admin/apps/install",
        "throttleStatus": bucket.status().as_json(),
        # Not Shopify's: the points the shop's queries actually cost since its bucket was made,
        # and what the last query left in the bucket (for benchmarks of restore-rate use).
        "pointsSpent": bucket.spent,
        "availableAfterLastQuery": bucket.left_after_last_query,
    }


@post("/_sandbox/reset", status_code=200)
async def reset(sandbox: SandboxDep) -> dict[str, Any]:
    """Back to the seeded shops: tokens, subscriptions, edits, faults and deliveries go."""
    await sandbox.reset()
    return {"reset": True, "shops": sorted(sandbox.store.shops)}


@get("/_sandbox/shops")
async def list_shops(sandbox: SandboxDep) -> list[dict[str, Any]]:
    return [shop_summary(sandbox, s) for s in sandbox.store.shops.values()]


@get("/_sandbox/shops/{shop_domain:str}")
async def show_shop(shop_domain: FromPath[str], sandbox: SandboxDep) -> dict[str, Any]:
    return shop_summary(sandbox, _shop(sandbox, shop_domain))


@get("/_sandbox/shops/{shop_domain:str}/install-link")
async def install_link(shop_domain: FromPath[str], sandbox: SandboxDep) -> dict[str, str]:
    """A freshly signed install URL, for tests (the start page goes through
    `/shops/{shop}/admin/apps/install`, which signs at click time)."""
    return {"url": sandbox.install_url(_shop(sandbox, shop_domain))}


@post("/_sandbox/shops/{shop_domain:str}/tokens", status_code=201)
async def mint_token(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> dict[str, Any]:
    """An Admin API token, as a custom app installed in the shop's admin gets one.

    Body (optional): {"scopes": "read_products,write_products"} or a list.
    """
    shop = _shop(sandbox, shop_domain)
    body = await _body(request)
    scopes = body.get("scopes")
    if isinstance(scopes, str):
        scopes = [s.strip() for s in scopes.split(",") if s.strip()]
    if scopes is not None and (not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes)):
        raise ClientException(detail="scopes must be a comma-separated string or a list")
    token = sandbox.store.mint_token(shop, scopes)
    await sandbox.save()
    return {"access_token": token.token, "scope": ",".join(token.scopes)}


@post("/_sandbox/shops/{shop_domain:str}/app-installation", status_code=200)
async def managed_install(shop_domain: FromPath[str], sandbox: SandboxDep) -> dict[str, Any]:
    """Shopify-managed installation without the browser: what the Install button on the
    admin's app listing does (the toml's scopes granted, no OAuth, no token yet)."""
    shop = _shop(sandbox, shop_domain)
    scopes = sandbox.install_managed(shop)
    await sandbox.save()
    return {"installed": True, "scopes": scopes}


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ClientException(detail=f"{name} must be an integer")
    return value


@post("/_sandbox/shops/{shop_domain:str}/id-tokens", status_code=201)
async def mint_id_token(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> dict[str, Any]:
    """An ID token as the admin would give the app now, for the app's tests.

    Body (all optional, to make refusable ones): `ttl` seconds (negative: already
    expired), `aud` (another app's client id), `userId`, `secret` (sign with another).
    """
    shop = _shop(sandbox, shop_domain)
    body = await _body(request)
    audience, secret = body.get("aud"), body.get("secret")
    if audience is not None and not isinstance(audience, str):
        raise ClientException(detail="aud must be a string")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise ClientException(detail="secret must be a non-empty string")
    config = sandbox.config
    claims = id_token_claims(
        config,
        shop,
        now=config.epoch_clock(),
        user_id=_optional_int(body, "userId"),
        audience=audience,
        ttl=_optional_int(body, "ttl"),
    )
    return {"idToken": sign(claims, secret or config.api_secret), "claims": claims}


@get("/_sandbox/shops/{shop_domain:str}/app-home-url")
async def show_app_home_url(
    shop_domain: FromPath[str], sandbox: SandboxDep, path: FromQuery[str] = ""
) -> dict[str, str]:
    """The URL the store admin would load in its iframe now (fresh ID token, signed), for
    the app's tests that open the app as the admin does without a browser."""
    shop = _shop(sandbox, shop_domain)
    if shop.installed_scopes is None:
        raise ClientException(status_code=409, detail=f"The app is not installed on {shop.domain}")
    return {"url": app_home_url(sandbox.config, shop, app_path=path)}


@post("/_sandbox/shops/{shop_domain:str}/tokens/expire", status_code=200)
async def expire_tokens(shop_domain: FromPath[str], sandbox: SandboxDep) -> dict[str, Any]:
    """Every access token of the shop expires now (refresh tokens keep working), for
    end-to-end tests of the app's refresh where the clock cannot be moved."""
    shop = _shop(sandbox, shop_domain)
    expired = sandbox.oauth.expire_access_tokens(shop)
    await sandbox.save()
    return {"expired": expired}


@post("/_sandbox/shops/{shop_domain:str}/tokens/revoke", status_code=200)
async def revoke_tokens(shop_domain: FromPath[str], sandbox: SandboxDep) -> dict[str, Any]:
    """Every access token and refresh token of the shop stops working while the app stays
    installed: what the app sees when Shopify no longer accepts its stored offline token (the
    refresh token expired or was revoked). A refresh is then `invalid_grant`; token exchange
    with a fresh ID token still works."""
    shop = _shop(sandbox, shop_domain)
    revoked = sandbox.oauth.revoke_tokens(shop)
    await sandbox.save()
    return {"revoked": revoked}


@put("/_sandbox/shops/{shop_domain:str}/oauth/granted-scopes", status_code=200)
async def set_granted_scopes(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> dict[str, Any]:
    """Body: {"scopes": ["read_products", ...] | "a,b" | null}.

    Later approvals grant only the listed scopes the app asked for (`read_x` counts as
    asked when the app asked `write_x`); null grants what is asked again.
    """
    shop = _shop(sandbox, shop_domain)
    body = await _body(request)
    if "scopes" not in body:
        raise ClientException(detail='Body must be {"scopes": [...]} or {"scopes": null}')
    scopes = body["scopes"]
    if isinstance(scopes, str):
        scopes = parse_scopes(scopes)
    if scopes is not None:
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ClientException(detail="scopes must be a list of strings, a comma-separated string or null")
        scopes = parse_scopes(",".join(scopes))
        bad = malformed_scopes(scopes)
        if bad:
            raise ClientException(detail=f"not access scopes: {', '.join(bad)}")
    shop.granted_scopes = scopes
    await sandbox.save()
    return {"shop": shop.domain, "scopes": scopes}


@get("/_sandbox/oauth/requests")
async def list_token_requests(
    sandbox: SandboxDep, shop: FromQuery[str | None] = None, grant_type: FromQuery[str | None] = None
) -> dict[str, Any]:
    """Every call of the token endpoint, oldest first: grant type, shop, outcome, status,
    fault. Never a token or a code."""
    return {
        "requests": [
            r.as_json()
            for r in sandbox.oauth.requests
            if (shop is None or r.shop == shop.lower()) and (grant_type is None or r.grant_type == grant_type)
        ]
    }


@post("/_sandbox/shops/{shop_domain:str}/uninstall", status_code=200)
async def uninstall(shop_domain: FromPath[str], sandbox: SandboxDep) -> dict[str, Any]:
    """The merchant uninstalls the app: every token and refresh token of the shop is
    revoked, `app/uninstalled` goes to the APP_UNINSTALLED subscriptions, and the shop's
    webhook subscriptions are deleted (as Shopify does). `shop/redact` is not sent by
    itself (Shopify sends it 48 h later): use `POST .../redact`."""
    shop = _shop(sandbox, shop_domain)
    revoked, events = sandbox.uninstall(shop)
    await sandbox.save()
    return {"revokedTokens": revoked, "webhookIds": [e.webhook_id for e in events]}


def _compliance_customer(body: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    customer = body.get("customer", DEFAULT_COMPLIANCE_CUSTOMER)
    orders = body.get("orders", [])
    if not isinstance(customer, dict):
        raise ClientException(detail="customer must be an object such as {id, email, phone}")
    if not isinstance(orders, list) or not all(isinstance(o, int) for o in orders):
        raise ClientException(detail="orders must be a list of order ids")
    return customer, orders


def _sent(event_webhook_id: str, url: str) -> dict[str, str]:
    return {"webhookId": event_webhook_id, "callbackUrl": url}


@post("/_sandbox/shops/{shop_domain:str}/redact", status_code=202)
async def shop_redact(shop_domain: FromPath[str], sandbox: SandboxDep) -> dict[str, str]:
    """`shop/redact` to the app's compliance URL `{app_url}/webhooks/shopify`."""
    shop = _shop(sandbox, shop_domain)
    url = sandbox.config.compliance_webhook_url
    event = sandbox.deliver_to(shop, "shop/redact", shop_redact_payload(shop), url)
    return _sent(event.webhook_id, url)


@post("/_sandbox/shops/{shop_domain:str}/customers/redact", status_code=202)
async def customers_redact(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> dict[str, str]:
    """Body (optional): {"customer": {"id", "email", "phone"}, "orders": [ids]}.
    `customers/redact` to the app's compliance URL."""
    shop = _shop(sandbox, shop_domain)
    customer, orders = _compliance_customer(await _body(request))
    url = sandbox.config.compliance_webhook_url
    payload = customers_redact_payload(shop, customer, orders)
    return _sent(sandbox.deliver_to(shop, "customers/redact", payload, url).webhook_id, url)


@post("/_sandbox/shops/{shop_domain:str}/customers/data_request", status_code=202)
async def customers_data_request(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> dict[str, str]:
    """Body (optional): {"customer": {...}, "orders": [ids]}. `customers/data_request`
    to the app's compliance URL."""
    shop = _shop(sandbox, shop_domain)
    customer, orders = _compliance_customer(await _body(request))
    url = sandbox.config.compliance_webhook_url
    payload = customers_data_request_payload(shop, customer, orders, sandbox.store.allocate_id())
    return _sent(sandbox.deliver_to(shop, "customers/data_request", payload, url).webhook_id, url)


@put("/_sandbox/shops/{shop_domain:str}/plan", status_code=200)
async def set_plan(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> dict[str, Any]:
    """Body: {"tier": "standard" | "advanced" | "plus" | "enterprise"}."""
    shop = _shop(sandbox, shop_domain)
    tier = (await _body(request)).get("tier")
    if tier not in {t.value for t in PlanTier}:
        raise ClientException(detail=f"tier must be one of {[t.value for t in PlanTier]}")
    await sandbox.set_tier(shop, PlanTier(tier))
    return shop_summary(sandbox, shop)


@put("/_sandbox/shops/{shop_domain:str}/bucket", status_code=200)
async def set_bucket(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> dict[str, Any]:
    """Body: {"maximumAvailable": points}. Resizes the shop's bucket, keeping its tier's
    restore rate and what it holds (capped at the new size), so a benchmark can work
    through a smaller bucket than Shopify's 20 seconds' worth. Not part of Shopify; lasts
    until the next plan change or reset."""
    shop = _shop(sandbox, shop_domain)
    maximum = (await _body(request)).get("maximumAvailable")
    if isinstance(maximum, bool) or not isinstance(maximum, int | float) or not 0 < maximum < float("inf"):
        raise ClientException(detail="maximumAvailable must be a positive number of points")
    bucket = sandbox.bucket(shop)
    bucket.resize(float(maximum), bucket.restore_rate)
    return shop_summary(sandbox, shop)


# -- merchant edits -------------------------------------------------------------------


@post("/_sandbox/shops/{shop_domain:str}/products", status_code=201)
async def merchant_create_product(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> Response[bytes]:
    """The merchant adds a product in the admin: emits products/create."""
    shop = _shop(sandbox, shop_domain)
    body = await _body(request)
    changes = {k: v for k, v in body.items() if k in (*PRODUCT_FIELDS, "productOptions")}
    errors = validate_product(shop, changes, product_id=None, creating=True)
    if errors:
        return json_response({"userErrors": errors}, 422)
    product = create_product(sandbox.store, shop, changes)
    sandbox.emit_product_event(shop, "products/create", product)
    await sandbox.save()
    return json_response(product_payload(product, sandbox.config.public_base), 201)


@patch("/_sandbox/shops/{shop_domain:str}/products/{product_id:str}", status_code=200)
async def merchant_edit_product(
    shop_domain: FromPath[str],
    product_id: FromPath[str],
    request: Request[Any, Any, Any],
    sandbox: SandboxDep,
) -> Response[bytes]:
    """The merchant edits a product in the admin: a partial update, emits products/update.

    Body: any of title, handle, descriptionHtml, vendor, productType, status, tags, and
    "variants": [{"id", "price", "compareAtPrice", "sku", "barcode", "inventoryQuantity"}].
    """
    shop = _shop(sandbox, shop_domain)
    product = _product(shop, product_id)
    body = await _body(request)
    changes = {k: v for k, v in body.items() if k in PRODUCT_FIELDS}
    variants = body.get("variants") or []
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        raise ClientException(detail="variants must be a list of objects")
    errors = validate_product(shop, changes, product_id=product.id, creating=False)
    errors += [
        e for errs in validate_variant_updates(product, variants, merchant=True).values() for e in errs
    ]
    if errors:
        return json_response({"userErrors": errors}, 422)
    apply_product(product, changes)
    for variant_changes in variants:
        variant = find_variant_in(product, variant_changes["id"])
        assert variant is not None
        apply_variant(product, variant, variant_changes)
    sandbox.emit_product_event(shop, "products/update", product)
    await sandbox.save()
    return json_response(product_payload(product, sandbox.config.public_base))


@delete("/_sandbox/shops/{shop_domain:str}/products/{product_id:str}", status_code=204)
async def merchant_delete_product(
    shop_domain: FromPath[str], product_id: FromPath[str], sandbox: SandboxDep
) -> None:
    """The merchant deletes a product: emits products/delete."""
    shop = _shop(sandbox, shop_domain)
    product = _product(shop, product_id)
    delete_product(shop, product)
    sandbox.emit(shop, "products/delete", {"id": product.id})
    await sandbox.save()


@post("/_sandbox/shops/{shop_domain:str}/collections", status_code=201)
async def merchant_create_collection(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> Response[bytes]:
    """The merchant adds a manual collection: {"title", "productIds"?: [id]}; emits
    collections/create (whose body, as in Shopify, does not list the products)."""
    shop = _shop(sandbox, shop_domain)
    body = await _body(request)
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        return json_response({"userErrors": [user_error(["title"], "Title can't be blank")]}, 422)
    raw_ids = body.get("productIds") or []
    if not isinstance(raw_ids, list):
        raise ClientException(detail="productIds must be a list of product ids")
    product_ids = [_product(shop, str(raw)).id for raw in raw_ids]
    handle = handleize(title)
    taken = {c.handle for c in shop.collections.values()}
    suffix = 1
    while handle in taken:
        suffix += 1
        handle = f"{handleize(title)}-{suffix}"
    collection = Collection(
        id=sandbox.store.allocate_id(),
        title=title.strip(),
        handle=handle,
        description_html="",
        product_ids=list(dict.fromkeys(product_ids)),
        updated_at=utcnow(),
    )
    shop.collections[collection.id] = collection
    sandbox.emit(shop, "collections/create", collection_payload(collection))
    await sandbox.save()
    return json_response({**collection_payload(collection), "productIds": collection.product_ids}, 201)


def _collection(shop: Shop, collection_id: str) -> Collection:
    collection = shop.collections.get(int(collection_id)) if collection_id.isdigit() else None
    if collection is None:
        raise NotFoundException(detail=f"No collection {collection_id} in {shop.domain}")
    return collection


@put("/_sandbox/shops/{shop_domain:str}/collections/{collection_id:str}", status_code=200)
async def merchant_edit_collection(
    shop_domain: FromPath[str],
    collection_id: FromPath[str],
    request: Request[Any, Any, Any],
    sandbox: SandboxDep,
) -> Response[bytes]:
    """The merchant renames a collection or changes its products: {"title"?, "productIds"?};
    emits collections/update (whose body, as in Shopify, does not list the products)."""
    shop = _shop(sandbox, shop_domain)
    collection = _collection(shop, collection_id)
    body = await _body(request)
    title = body.get("title", collection.title)
    if not isinstance(title, str) or not title.strip():
        return json_response({"userErrors": [user_error(["title"], "Title can't be blank")]}, 422)
    raw_ids = body.get("productIds", collection.product_ids)
    if not isinstance(raw_ids, list):
        raise ClientException(detail="productIds must be a list of product ids")
    collection.product_ids = list(dict.fromkeys(_product(shop, str(raw)).id for raw in raw_ids))
    collection.title = title.strip()
    collection.updated_at = utcnow()
    sandbox.emit(shop, "collections/update", collection_payload(collection))
    await sandbox.save()
    return json_response({**collection_payload(collection), "productIds": collection.product_ids})


@delete("/_sandbox/shops/{shop_domain:str}/collections/{collection_id:str}", status_code=204)
async def merchant_delete_collection(
    shop_domain: FromPath[str], collection_id: FromPath[str], sandbox: SandboxDep
) -> None:
    """The merchant deletes a collection (its products stay): emits collections/delete."""
    shop = _shop(sandbox, shop_domain)
    collection = _collection(shop, collection_id)
    del shop.collections[collection.id]
    sandbox.emit(shop, "collections/delete", collection_delete_payload(collection.id))
    await sandbox.save()


# -- faults ---------------------------------------------------------------------------


@get("/_sandbox/faults")
async def list_faults(sandbox: SandboxDep) -> list[dict[str, Any]]:
    return [f.as_json() for f in sandbox.faults.active()]


@post("/_sandbox/faults", status_code=201)
async def add_fault(request: Request[Any, Any, Any], sandbox: SandboxDep) -> dict[str, Any]:
    """Body: {"kind", "shop": domain or "*", "path": "graphql"|"oauth"|"*", "count", "seconds"}.

    Path `oauth` is the token endpoint (`/admin/oauth/access_token`): http_500 and timeout.
    Kinds: http_500, timeout (stall `seconds`, then answer normally), throttle (drained bucket),
    lost_answer (apply, then stall `seconds` before answering; `"mutation": name` limits it to
    requests running that mutation), webhook_duplicate, webhook_out_of_order (`count` webhooks
    held, then sent last-first).
    """
    body = await _body(request)
    try:
        kind = FaultKind(str(body.get("kind")))
        path = PathKind(body.get("path", PathKind.GRAPHQL.value))
    except ValueError as exc:
        raise ClientException(
            detail=f"kind must be one of {[k.value for k in FaultKind]}; "
            f"path one of {[p.value for p in PathKind]}"
        ) from exc
    if kind in (FaultKind.THROTTLE, FaultKind.LOST_ANSWER) and path is PathKind.OAUTH:
        raise ClientException(
            detail=f"{kind.value} faults apply to graphql; oauth takes http_500 and timeout"
        )
    mutation = body.get("mutation")
    if mutation is not None and (kind is not FaultKind.LOST_ANSWER or not isinstance(mutation, str)):
        raise ClientException(detail="mutation (a mutation's name) is for lost_answer faults only")
    shop = str(body.get("shop", ANY_SHOP))
    if shop != ANY_SHOP:
        shop = _shop(sandbox, shop).domain
    count = body.get("count", 2 if kind is FaultKind.WEBHOOK_OUT_OF_ORDER else 1)
    seconds = body.get("seconds", 0.0)
    if not isinstance(count, int) or count < 1:
        raise ClientException(detail="count must be a positive integer")
    if not isinstance(seconds, int | float) or seconds < 0:
        raise ClientException(detail="seconds must be a non-negative number")
    fault = sandbox.faults.add(
        kind, shop=shop, path=path, count=count, seconds=float(seconds), mutation=mutation
    )
    return fault.as_json()


@delete("/_sandbox/faults", status_code=200)
async def clear_faults(sandbox: SandboxDep, shop: FromQuery[str | None] = None) -> dict[str, int]:
    return {"cleared": sandbox.faults.clear(shop)}


# -- webhooks -------------------------------------------------------------------------


@get("/_sandbox/webhooks/deliveries")
async def list_deliveries(
    sandbox: SandboxDep,
    shop: FromQuery[str | None] = None,
    topic: FromQuery[str | None] = None,
    webhook_id: FromQuery[str | None] = None,
) -> dict[str, Any]:
    """Every delivery attempt, oldest first, with status, duration and error."""
    attempts = [
        a.as_json()
        for a in sandbox.dispatcher.attempts
        if (shop is None or a.shop == shop)
        and (topic is None or a.topic == topic)
        and (webhook_id is None or a.webhook_id == webhook_id)
    ]
    return {
        "attempts": attempts,
        "pending": sandbox.dispatcher.pending_count(),
        "held": sandbox.dispatcher.held_count(),
    }


@post("/_sandbox/webhooks/trigger", status_code=202)
async def trigger_webhook(request: Request[Any, Any, Any], sandbox: SandboxDep) -> dict[str, Any]:
    """Body: {"shop", "topic": "orders/create", "payload": {...}, "callbackUrl"?}.

    Without callbackUrl the event goes to the shop's subscriptions for the topic (the
    compliance topics to the app's compliance URL); with it, straight to that URL.
    """
    body = await _body(request)
    shop = _shop(sandbox, str(body.get("shop", "")))
    topic = str(body.get("topic", ""))
    topic = TOPICS.get(topic, topic)
    if "/" not in topic:
        raise ClientException(detail="topic must look like products/update")
    payload = body.get("payload", {})
    if not isinstance(payload, dict):
        raise ClientException(detail="payload must be a JSON object")
    callback_url = body.get("callbackUrl")
    if not callback_url and topic in COMPLIANCE_TOPICS:
        # Nobody subscribes to these: they go to the app's configured compliance URL.
        callback_url = sandbox.config.compliance_webhook_url
    if callback_url:
        events = [sandbox.deliver_to(shop, topic, payload, str(callback_url))]
    else:
        events = sandbox.emit(shop, topic, payload)
    return {
        "eventId": events[0].event_id if events else None,
        "webhookIds": [e.webhook_id for e in events],
    }


@get("/_sandbox/shops/{shop_domain:str}/app-subscriptions")
async def list_app_subscriptions(shop_domain: FromPath[str], sandbox: SandboxDep) -> dict[str, Any]:
    """Every Billing API charge of the shop, oldest first, with its status."""
    shop = _shop(sandbox, shop_domain)
    return {
        "appSubscriptions": [
            billing.subscription_json(sandbox.config, shop, sub)
            for sub in sorted(shop.app_subscriptions.values(), key=lambda s: s.id)
        ]
    }


@post("/_sandbox/shops/{shop_domain:str}/app-subscriptions/{subscription_id:str}/status", status_code=200)
async def set_app_subscription_status(
    shop_domain: FromPath[str],
    subscription_id: FromPath[str],
    request: Request[Any, Any, Any],
    sandbox: SandboxDep,
) -> dict[str, Any]:
    """Body: {"status": "FROZEN" | "CANCELLED" | "EXPIRED" | "ACTIVE"}. What Shopify does
    on its own (a frozen store, an expired trial, support cancelling); sends
    `app_subscriptions/update` for every subscription that changed."""
    shop = _shop(sandbox, shop_domain)
    sub = billing.find_subscription(shop, subscription_id)
    if sub is None:
        raise NotFoundException(detail=f"No app subscription {subscription_id} in {shop.domain}")
    status = (await _body(request)).get("status")
    if status not in billing.CONTROL_STATUSES:
        raise ClientException(detail=f"status must be one of {', '.join(billing.CONTROL_STATUSES)}")
    changed = billing.transition(shop, sub, str(status), billing.billing_now(sandbox.config))
    events = [e for c in changed for e in sandbox.emit(shop, billing.TOPIC, billing.webhook_payload(shop, c))]
    await sandbox.save()
    return {
        "appSubscription": billing.subscription_json(sandbox.config, shop, sub),
        "webhookIds": [e.webhook_id for e in events],
    }


@post("/_sandbox/webhooks/release", status_code=200)
async def release_webhooks(sandbox: SandboxDep) -> dict[str, int]:
    """Send webhooks still held by an unfinished out-of-order fault, last-first."""
    return {"released": sandbox.dispatcher.release_held()}


CONTROL_HANDLERS = [
    reset,
    list_shops,
    show_shop,
    install_link,
    mint_token,
    managed_install,
    mint_id_token,
    show_app_home_url,
    expire_tokens,
    revoke_tokens,
    set_granted_scopes,
    list_token_requests,
    uninstall,
    shop_redact,
    customers_redact,
    customers_data_request,
    set_plan,
    set_bucket,
    merchant_create_product,
    merchant_edit_product,
    merchant_delete_product,
    merchant_create_collection,
    merchant_delete_collection,
    merchant_edit_collection,
    list_faults,
    add_fault,
    clear_faults,
    list_deliveries,
    trigger_webhook,
    release_webhooks,
    list_app_subscriptions,
    set_app_subscription_status,
]
