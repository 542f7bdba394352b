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

from sandbox.shopify.admin_api import json_response
from sandbox.shopify.catalog import (
    PRODUCT_FIELDS,
    apply_product,
    apply_variant,
    create_product,
    delete_product,
    find_variant_in,
    validate_product,
    validate_variant_updates,
)
from sandbox.shopify.config import LATEST_API_VERSION
from sandbox.shopify.faults import ANY_SHOP, FaultKind, PathKind
from sandbox.shopify.install import install_url
from sandbox.shopify.models import PlanTier, Product, Shop
from sandbox.shopify.payloads import TOPICS, product_payload
from sandbox.shopify.runtime import SandboxDep


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
        "webhookSubscriptionCount": len(shop.webhook_subscriptions),
        "baseUrl": base_url,
        "graphqlUrl": f"{base_url}/admin/api/{LATEST_API_VERSION}/graphql.json",
        "installUrl": install_url(config.app_url, shop.domain, config.api_secret),
        "throttleStatus": bucket.status().as_json(),
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
    """A freshly signed install URL (the start page's links age out of the 90 s window)."""
    shop = _shop(sandbox, shop_domain)
    config = sandbox.config
    return {"url": install_url(config.app_url, shop.domain, config.api_secret)}


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


# -- faults ---------------------------------------------------------------------------


@get("/_sandbox/faults")
async def list_faults(sandbox: SandboxDep) -> list[dict[str, Any]]:
    return [f.as_json() for f in sandbox.faults.active()]


@post("/_sandbox/faults", status_code=201)
async def add_fault(request: Request[Any, Any, Any], sandbox: SandboxDep) -> dict[str, Any]:
    """Body: {"kind", "shop": domain or "*", "path": "graphql"|"oauth"|"*", "count", "seconds"}.

    Kinds: http_500, timeout (stall `seconds`), throttle (drained bucket),
    webhook_duplicate, webhook_out_of_order (`count` webhooks held, then sent last-first).
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
    shop = str(body.get("shop", ANY_SHOP))
    if shop != ANY_SHOP:
        shop = _shop(sandbox, shop).domain
    count = body.get("count", 2 if kind is FaultKind.WEBHOOK_OUT_OF_ORDER else 1)
    seconds = body.get("seconds", 0.0)
    if not isinstance(count, int) or count < 1:
        raise ClientException(detail="count must be a positive integer")
    if not isinstance(seconds, int | float) or seconds < 0:
        raise ClientException(detail="seconds must be a non-negative number")
    fault = sandbox.faults.add(kind, shop=shop, path=path, count=count, seconds=float(seconds))
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

    Without callbackUrl the event goes to the shop's subscriptions for the topic; with
    it, straight to that URL (how the app's configured compliance webhooks arrive).
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
    if callback_url:
        events = [sandbox.deliver_to(shop, topic, payload, str(callback_url))]
    else:
        events = sandbox.emit(shop, topic, payload)
    return {
        "eventId": events[0].event_id if events else None,
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
    set_plan,
    merchant_create_product,
    merchant_edit_product,
    merchant_delete_product,
    list_faults,
    add_fault,
    clear_faults,
    list_deliveries,
    trigger_webhook,
    release_webhooks,
]
