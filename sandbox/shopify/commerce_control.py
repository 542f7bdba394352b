"""Control API for customers, orders, fulfillments, variants, bulk catalogues and writes.

Not part of Shopify: what a shopper or the merchant does in the real store (checkout,
editing a customer, fulfilling an order, changing a price), for tests and the demo.
Each change sends the webhooks Shopify sends for it, validated by the same rules as the
Admin API (422 with `userErrors` when invalid). Bodies use the Admin API's input names
(camelCase); answers are the REST-shaped objects the webhooks carry (numeric `id` and
`admin_graphql_api_id`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from litestar import Request, Response, delete, get, post, put
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import FromPath
from litestar.response import File

from sandbox.shopify.admin_api import json_response
from sandbox.shopify.bulk import find_operation
from sandbox.shopify.catalog import (
    MAX_GENERATED_PRODUCTS,
    MAX_GENERATED_VARIANTS,
    MAX_VARIANTS,
    apply_variant,
    generate_catalog,
    user_error,
    validate_variant_updates,
)
from sandbox.shopify.commerce_resolvers import Emit, queue_fulfillment_created, queue_order_created
from sandbox.shopify.control import _body, _product, _shop
from sandbox.shopify.customers import (
    CANNOT_DELETE_WITH_ORDERS,
    CUSTOMER_FIELDS,
    apply_customer,
    create_customer,
    delete_customer,
    find_by_email,
    find_by_phone,
    has_open_orders,
    validate_customer,
)
from sandbox.shopify.models import Customer, Order, Shop, gid, utcnow
from sandbox.shopify.orders import (
    CANCEL_REASONS,
    ORDER_UPDATE_FIELDS,
    apply_order_update,
    cancel_order,
    create_fulfillment,
    create_order,
    update_tracking,
    validate_fulfillment,
    validate_order_create,
    validate_order_update,
)
from sandbox.shopify.payloads import (
    customer_delete_payload,
    customer_payload,
    fulfillment_payload,
    order_delete_payload,
    order_payload,
    product_payload,
)
from sandbox.shopify.runtime import SandboxDep, ShopifySandbox


def _customer(shop: Shop, customer_id: str) -> Customer:
    customer = shop.customers.get(int(customer_id)) if customer_id.isdigit() else None
    if customer is None:
        raise NotFoundException(detail=f"No customer {customer_id} in {shop.domain}")
    return customer


def _order(shop: Shop, order_id: str) -> Order:
    order = shop.orders.get(int(order_id)) if order_id.isdigit() else None
    if order is None:
        raise NotFoundException(detail=f"No order {order_id} in {shop.domain}")
    return order


def _emitter(sandbox: ShopifySandbox, shop: Shop, sent: list[str]) -> Emit:
    def emit(topic: str, payload: dict[str, Any]) -> None:
        sent.extend(e.webhook_id for e in sandbox.emit(shop, topic, payload))

    return emit


def _invalid(errors: list[dict[str, Any]]) -> Response[bytes]:
    return json_response({"userErrors": errors}, 422)


# -- customers ------------------------------------------------------------------------


@post("/_sandbox/shops/{shop_domain:str}/customers", status_code=201)
async def merchant_create_customer(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> Response[bytes]:
    """The merchant adds a customer in the admin: emits customers/create.

    Body: CustomerInput's fields: firstName, lastName, email, phone, tags, note,
    emailMarketingConsent {marketingState}, addresses [MailingAddressInput].
    """
    shop = _shop(sandbox, shop_domain)
    fields = {k: v for k, v in (await _body(request)).items() if k in CUSTOMER_FIELDS}
    errors = validate_customer(shop, fields, customer=None)
    if errors:
        return _invalid(errors)
    customer = create_customer(sandbox.store, shop, fields)
    payload = customer_payload(shop, customer)
    sandbox.emit(shop, "customers/create", payload)
    await sandbox.save()
    return json_response(payload, 201)


@get("/_sandbox/shops/{shop_domain:str}/customers/{customer_id:str}")
async def show_customer(
    shop_domain: FromPath[str], customer_id: FromPath[str], sandbox: SandboxDep
) -> dict[str, Any]:
    shop = _shop(sandbox, shop_domain)
    return customer_payload(shop, _customer(shop, customer_id))


@put("/_sandbox/shops/{shop_domain:str}/customers/{customer_id:str}", status_code=200)
async def merchant_edit_customer(
    shop_domain: FromPath[str],
    customer_id: FromPath[str],
    request: Request[Any, Any, Any],
    sandbox: SandboxDep,
) -> Response[bytes]:
    """The merchant edits a customer (partial: only the fields sent change; `addresses`
    replaces the address book). Emits customers/update when something changed."""
    shop = _shop(sandbox, shop_domain)
    customer = _customer(shop, customer_id)
    fields = {k: v for k, v in (await _body(request)).items() if k in CUSTOMER_FIELDS}
    errors = validate_customer(shop, fields, customer=customer)
    if errors:
        return _invalid(errors)
    payload = customer_payload(shop, customer)
    if apply_customer(sandbox.store, customer, fields):
        payload = customer_payload(shop, customer)
        sandbox.emit(shop, "customers/update", payload)
        await sandbox.save()
    return json_response(payload)


@delete("/_sandbox/shops/{shop_domain:str}/customers/{customer_id:str}", status_code=200)
async def merchant_delete_customer(
    shop_domain: FromPath[str], customer_id: FromPath[str], sandbox: SandboxDep
) -> Response[bytes]:
    """The merchant deletes a customer (refused while they have open orders): emits
    customers/delete."""
    shop = _shop(sandbox, shop_domain)
    customer = _customer(shop, customer_id)
    if has_open_orders(shop, customer):
        return _invalid([user_error(["id"], CANNOT_DELETE_WITH_ORDERS)])
    delete_customer(shop, customer)
    sandbox.emit(shop, "customers/delete", customer_delete_payload(customer.id))
    await sandbox.save()
    return json_response({"id": customer.id, "admin_graphql_api_id": gid("Customer", customer.id)})


# -- orders ---------------------------------------------------------------------------


def _checkout_input(shop: Shop, body: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A shopper's checkout as an OrderCreateOrderInput (and errors only a checkout has)."""
    buyer = body.get("customer") if isinstance(body.get("customer"), Mapping) else {}
    assert isinstance(buyer, Mapping)

    def pick(name: str) -> Any:
        return body.get(name) if body.get(name) is not None else buyer.get(name)

    email, phone = pick("email"), pick("phone")
    errors = []
    if not email and not phone:
        errors.append(user_error(["email"], "Enter an email or a phone number"))
    items = body.get("lineItems")
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise ClientException(detail="lineItems must be a list of objects")
    line_items = []
    for item in items:
        line: dict[str, Any] = {"quantity": item.get("quantity", 1)}
        if item.get("variantId") is not None:
            line["variantId"] = item["variantId"]
        else:
            line["title"] = item.get("title")
            for name in ("sku", "requiresShipping", "variantTitle"):
                if item.get(name) is not None:
                    line[name] = item[name]
        if item.get("price") is not None:
            line["priceSet"] = {"shopMoney": {"amount": item["price"], "currencyCode": shop.currency_code}}
        line_items.append(line)
    shipping = body.get("shippingAddress")
    order_in: dict[str, Any] = {
        "email": email,
        "phone": phone,
        "note": body.get("note"),
        "tags": body.get("tags"),
        "financialStatus": body.get("financialStatus") or "PAID",
        "sourceName": body.get("sourceName") or "web",
        "lineItems": line_items,
        "shippingAddress": shipping,
        "billingAddress": body.get("billingAddress") or shipping,
    }
    existing = find_by_email(shop, email) if email else find_by_phone(shop, phone)
    if existing is not None:
        order_in["customer"] = {"toAssociate": {"id": gid("Customer", existing.id)}}
    elif email or phone:
        new_customer: dict[str, Any] = {
            "email": email,
            "phone": phone,
            "firstName": pick("firstName") or (shipping or {}).get("firstName"),
            "lastName": pick("lastName") or (shipping or {}).get("lastName"),
        }
        if shipping:
            new_customer["addresses"] = [_customer_address(shipping)]
        if email and body.get("acceptsMarketing"):
            new_customer["emailMarketingConsent"] = {
                "marketingState": "SUBSCRIBED",
                "marketingOptInLevel": "SINGLE_OPT_IN",
            }
        order_in["customer"] = {"toUpsert": {k: v for k, v in new_customer.items() if v is not None}}
    return {k: v for k, v in order_in.items() if v is not None}, errors


def _customer_address(address: dict[str, Any]) -> dict[str, Any]:
    """A MailingAddressInput as an OrderCreateCustomerAddressInput, which Shopify's schema gives
    `country` and `province` (a name or a code) but no `countryCode` or `provinceCode`."""
    plain = ("address1", "address2", "city", "company", "firstName", "lastName", "phone", "zip")
    customer_address = {key: address.get(key) for key in plain}
    # A name, where the shopper gave one, else the code: Shopify's address takes either.
    customer_address["country"] = address.get("country") or address.get("countryCode")
    customer_address["province"] = address.get("province") or address.get("provinceCode")
    customer_address = {key: value for key, value in customer_address.items() if value is not None}
    return customer_address


@post("/_sandbox/shops/{shop_domain:str}/orders", status_code=201)
async def shopper_checkout(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> Response[bytes]:
    """A shopper checks out on the storefront: a paid order (`sourceName` web), the
    customer found by email or phone or created (with the shipping address as default
    address), stock taken off. Emits customers/create (a new customer), orders/create
    and orders/paid.

    Body: {"email", "phone"?, "firstName"?, "lastName"? (or "customer": {...}),
    "lineItems": [{"variantId", "quantity"} | {"title", "price", "quantity", "sku"?,
    "requiresShipping"?}], "shippingAddress"?, "billingAddress"? (default: shipping),
    "note"?, "tags"?, "acceptsMarketing"?, "financialStatus"? (PAID), "sourceName"? (web)}.
    """
    shop = _shop(sandbox, shop_domain)
    order_in, errors = _checkout_input(shop, await _body(request))
    options = {"inventoryBehaviour": "DECREMENT_IGNORING_POLICY"}
    errors += validate_order_create(sandbox.store, shop, order_in, options, prefix=())
    if errors:
        return _invalid(errors)
    creation = create_order(sandbox.store, shop, order_in, options, default_source_name="web")
    queue_order_created(_emitter(sandbox, shop, []), shop, creation)
    await sandbox.save()
    return json_response(order_payload(shop, creation.order), 201)


@get("/_sandbox/shops/{shop_domain:str}/orders/{order_id:str}")
async def show_order(
    shop_domain: FromPath[str], order_id: FromPath[str], sandbox: SandboxDep
) -> dict[str, Any]:
    shop = _shop(sandbox, shop_domain)
    return order_payload(shop, _order(shop, order_id))


@put("/_sandbox/shops/{shop_domain:str}/orders/{order_id:str}", status_code=200)
async def merchant_edit_order(
    shop_domain: FromPath[str],
    order_id: FromPath[str],
    request: Request[Any, Any, Any],
    sandbox: SandboxDep,
) -> Response[bytes]:
    """The merchant edits an order: any of email, phone, note, tags, poNumber,
    shippingAddress. Emits orders/updated when something changed."""
    shop = _shop(sandbox, shop_domain)
    order = _order(shop, order_id)
    changes = {k: v for k, v in (await _body(request)).items() if k in ORDER_UPDATE_FIELDS}
    errors = validate_order_update(changes)
    if errors:
        return _invalid(errors)
    if apply_order_update(sandbox.store, order, changes):
        sandbox.emit(shop, "orders/updated", order_payload(shop, order))
        await sandbox.save()
    return json_response(order_payload(shop, order))


@post("/_sandbox/shops/{shop_domain:str}/orders/{order_id:str}/cancel", status_code=200)
async def merchant_cancel_order(
    shop_domain: FromPath[str],
    order_id: FromPath[str],
    request: Request[Any, Any, Any],
    sandbox: SandboxDep,
) -> Response[bytes]:
    """The merchant cancels an order. Body (optional): {"reason": "CUSTOMER" | "DECLINED" |
    "FRAUD" | "INVENTORY" | "OTHER" | "STAFF"}. Emits orders/cancelled and orders/updated."""
    shop = _shop(sandbox, shop_domain)
    order = _order(shop, order_id)
    reason = str((await _body(request)).get("reason") or "OTHER").upper()
    if reason not in CANCEL_REASONS:
        raise ClientException(detail=f"reason must be one of {', '.join(CANCEL_REASONS)}")
    if order.cancelled_at is not None:
        return json_response({"detail": f"Order {order.name} is already cancelled"}, 409)
    cancel_order(order, reason)
    payload = order_payload(shop, order)
    sandbox.emit(shop, "orders/cancelled", payload)
    sandbox.emit(shop, "orders/updated", payload)
    await sandbox.save()
    return json_response(payload)


@delete("/_sandbox/shops/{shop_domain:str}/orders/{order_id:str}", status_code=200)
async def merchant_delete_order(
    shop_domain: FromPath[str], order_id: FromPath[str], sandbox: SandboxDep
) -> Response[bytes]:
    """The merchant deletes a cancelled order (as the Shopify admin allows): emits
    orders/delete."""
    shop = _shop(sandbox, shop_domain)
    order = _order(shop, order_id)
    if order.cancelled_at is None:
        return _invalid([user_error(["id"], "Only cancelled orders can be deleted")])
    del shop.orders[order.id]
    sandbox.emit(shop, "orders/delete", order_delete_payload(order.id))
    await sandbox.save()
    return json_response({"id": order.id, "admin_graphql_api_id": gid("Order", order.id)})


def _fulfillment_input(order: Order, body: Mapping[str, Any]) -> dict[str, Any]:
    """{"lineItems": [{"id": line item id, "quantity"}]} as lineItemsByFulfillmentOrder
    (without it: everything left to fulfil)."""
    wanted = body.get("lineItems")
    groups: list[dict[str, Any]]
    if wanted is None:
        groups = [{"fulfillmentOrderId": gid("FulfillmentOrder", fo.id)} for fo in order.fulfillment_orders]
    else:
        if not isinstance(wanted, list) or not all(isinstance(w, Mapping) for w in wanted):
            raise ClientException(detail="lineItems must be a list of {id, quantity}")
        by_fo: dict[int, list[dict[str, Any]]] = {}
        for item in wanted:
            line_item_id = item.get("id")
            match = next(
                (
                    (fo, li)
                    for fo in order.fulfillment_orders
                    for li in fo.line_items
                    if str(li.line_item_id) == str(line_item_id).rsplit("/", 1)[-1]
                ),
                None,
            )
            if match is None:
                raise ClientException(detail=f"Order {order.name} has no line item {line_item_id}")
            fo, li = match
            quantity = item.get("quantity", li.remaining_quantity)
            by_fo.setdefault(fo.id, []).append(
                {"id": gid("FulfillmentOrderLineItem", li.id), "quantity": quantity}
            )
        groups = [
            {"fulfillmentOrderId": gid("FulfillmentOrder", fo_id), "fulfillmentOrderLineItems": items}
            for fo_id, items in by_fo.items()
        ]
    tracking = {
        "number": body.get("trackingNumber"),
        "company": body.get("trackingCompany"),
        "url": body.get("trackingUrl"),
    }
    return {
        "lineItemsByFulfillmentOrder": groups,
        "trackingInfo": {k: v for k, v in tracking.items() if v is not None},
    }


@post("/_sandbox/shops/{shop_domain:str}/orders/{order_id:str}/fulfillments", status_code=201)
async def merchant_fulfill_order(
    shop_domain: FromPath[str],
    order_id: FromPath[str],
    request: Request[Any, Any, Any],
    sandbox: SandboxDep,
) -> Response[bytes]:
    """The merchant marks an order fulfilled. Body: {"trackingNumber"?, "trackingCompany"?,
    "trackingUrl"?, "lineItems"?: [{"id": line item id, "quantity"}]} (default: all that is
    left). Emits fulfillments/create, orders/updated and, once all is fulfilled,
    orders/fulfilled."""
    shop = _shop(sandbox, shop_domain)
    order = _order(shop, order_id)
    fulfillment_in = _fulfillment_input(order, await _body(request))
    errors, plan = validate_fulfillment(shop, fulfillment_in)
    if errors or plan is None:
        return _invalid(errors)
    created = create_fulfillment(sandbox.store, plan, fulfillment_in["trackingInfo"])
    queue_fulfillment_created(_emitter(sandbox, shop, []), shop, order, created.id)
    await sandbox.save()
    return json_response(fulfillment_payload(order, created), 201)


# Fulfillment.status in webhooks (GraphQL's FulfillmentStatus, lower-cased).
FULFILLMENT_STATUSES = ("pending", "open", "success", "cancelled", "error", "failure")


@put("/_sandbox/shops/{shop_domain:str}/orders/{order_id:str}/fulfillments/{fulfillment_id:str}")
async def merchant_edit_tracking(
    shop_domain: FromPath[str],
    order_id: FromPath[str],
    fulfillment_id: FromPath[str],
    request: Request[Any, Any, Any],
    sandbox: SandboxDep,
) -> Response[bytes]:
    """The merchant changes a fulfillment's tracking or its status: {"trackingNumber"?,
    "trackingCompany"?, "trackingUrl"?, "status"?} (status as Shopify's fulfillment webhooks
    spell it: pending, open, success, cancelled, error, failure). Emits fulfillments/update
    when something changed; 422 for another status."""
    shop = _shop(sandbox, shop_domain)
    order = _order(shop, order_id)
    fulfillment = next((f for f in order.fulfillments if str(f.id) == fulfillment_id), None)
    if fulfillment is None:
        raise NotFoundException(detail=f"No fulfillment {fulfillment_id} on order {order.name}")
    body = await _body(request)
    status = body.get("status")
    if status is not None and status not in FULFILLMENT_STATUSES:
        message = f"status must be one of {', '.join(FULFILLMENT_STATUSES)}"
        return json_response({"userErrors": [{"field": ["status"], "message": message}]}, 422)
    names = {"trackingNumber": "number", "trackingCompany": "company", "trackingUrl": "url"}
    tracking = {names[k]: v for k, v in body.items() if k in names}
    changed = update_tracking(fulfillment, tracking)
    if status is not None and status.upper() != fulfillment.status:
        fulfillment.status = status.upper()
        fulfillment.updated_at = utcnow()
        changed = True
    if changed:
        order.updated_at = fulfillment.updated_at
        sandbox.emit(shop, "fulfillments/update", fulfillment_payload(order, fulfillment))
        await sandbox.save()
    return json_response(fulfillment_payload(order, fulfillment))


# -- catalogue ------------------------------------------------------------------------


@put("/_sandbox/shops/{shop_domain:str}/products/{product_id:str}/variants/{variant_id:str}")
async def merchant_edit_variant(
    shop_domain: FromPath[str],
    product_id: FromPath[str],
    variant_id: FromPath[str],
    request: Request[Any, Any, Any],
    sandbox: SandboxDep,
) -> Response[bytes]:
    """The merchant edits one variant: any of price, compareAtPrice, sku, barcode,
    inventoryQuantity, taxable, inventoryPolicy, and inventoryItem (its sku, tracked and
    measurement.weight {value, unit}). Emits products/update."""
    shop = _shop(sandbox, shop_domain)
    product = _product(shop, product_id)
    variant = next((v for v in product.variants if str(v.id) == variant_id), None)
    if variant is None:
        raise NotFoundException(detail=f"No variant {variant_id} on product {product.id}")
    allowed = (
        "price",
        "compareAtPrice",
        "sku",
        "barcode",
        "inventoryQuantity",
        "taxable",
        "inventoryPolicy",
        "inventoryItem",
    )
    changes = {k: v for k, v in (await _body(request)).items() if k in allowed}
    changes["id"] = variant.id
    errors = [
        e for errs in validate_variant_updates(product, [changes], merchant=True).values() for e in errs
    ]
    if errors:
        return _invalid(errors)
    apply_variant(product, variant, changes)
    payload = product_payload(product, sandbox.config.public_base)
    sandbox.emit(shop, "products/update", payload)
    await sandbox.save()
    return json_response(payload)


@post("/_sandbox/shops/{shop_domain:str}/catalog/generate", status_code=201)
async def generate_products(
    shop_domain: FromPath[str], request: Request[Any, Any, Any], sandbox: SandboxDep
) -> dict[str, Any]:
    """Add many products at once, silently (no webhooks): {"products": int,
    "variants_per_product": int}. For large-catalogue imports and bulk operations."""
    shop = _shop(sandbox, shop_domain)
    body = await _body(request)
    products = body.get("products")
    per_product = body.get("variants_per_product", body.get("variantsPerProduct", 1))
    if not isinstance(products, int) or not 1 <= products <= MAX_GENERATED_PRODUCTS:
        raise ClientException(detail=f"products must be an integer from 1 to {MAX_GENERATED_PRODUCTS}")
    if not isinstance(per_product, int) or not 1 <= per_product <= MAX_VARIANTS:
        raise ClientException(detail=f"variants_per_product must be an integer from 1 to {MAX_VARIANTS}")
    if products * per_product > MAX_GENERATED_VARIANTS:
        raise ClientException(detail=f"at most {MAX_GENERATED_VARIANTS} variants at once")
    started = time.perf_counter()
    created = generate_catalog(sandbox.store, shop, products, per_product)
    await sandbox.save()
    return {
        "products": len(created),
        "variants": sum(len(p.variants) for p in created),
        "productIds": [p.id for p in created],
        "productCount": len(shop.products),
        "variantCount": shop.variant_count,
        "seconds": round(time.perf_counter() - started, 3),
    }


# -- writes and bulk results ----------------------------------------------------------


@get("/_sandbox/shops/{shop_domain:str}/writes")
async def list_writes(shop_domain: FromPath[str], sandbox: SandboxDep) -> dict[str, Any]:
    """Admin API mutations by name: `writes` applied (no userErrors), `refused` answered
    with userErrors. Cleared by /_sandbox/reset."""
    shop = _shop(sandbox, shop_domain)
    return {
        "shop": shop.domain,
        "writes": dict(sorted(shop.api_writes.items())),
        "refused": dict(sorted(shop.api_refusals.items())),
        "total": sum(shop.api_writes.values()),
    }


@get("/_sandbox/bulk/{file_name:str}")
async def download_bulk_result(file_name: FromPath[str], sandbox: SandboxDep) -> File:
    """The JSONL result of a finished bulk operation, streamed as `application/jsonl`.
    Public, like Shopify's signed storage URLs."""
    stem = file_name.removesuffix(".jsonl")
    operation = (
        find_operation(sandbox, int(stem)) if file_name.endswith(".jsonl") and stem.isdigit() else None
    )
    if operation is None or not (operation.has_file or operation.partial):
        raise NotFoundException(detail=f"No bulk operation result {file_name}")
    path = sandbox.bulk.path(operation.id)
    if not await asyncio.to_thread(path.exists):
        raise NotFoundException(detail=f"No bulk operation result {file_name}")
    return File(
        path=path, media_type="application/jsonl", content_disposition_type="inline", filename=file_name
    )


COMMERCE_CONTROL_HANDLERS = [
    merchant_create_customer,
    show_customer,
    merchant_edit_customer,
    merchant_delete_customer,
    shopper_checkout,
    show_order,
    merchant_edit_order,
    merchant_cancel_order,
    merchant_delete_order,
    merchant_fulfill_order,
    merchant_edit_tracking,
    merchant_edit_variant,
    generate_products,
    list_writes,
    download_bulk_result,
]
