"""The emulated Stripe API under `/v1/`: auth, faults, idempotency, params, resources.

Errors are Stripe's: `{"error": {"type", "message", "code"?, "param"?}}` with its status
codes (400 bad params, 401 bad key, 404 `resource_missing`, 429 `rate_limit`, 500
`api_error`). Only what the product uses is emulated; unknown params are refused the way
Stripe refuses them (`Received unknown parameter: x`), so a typo fails here too.
"""

from __future__ import annotations

import copy
import json
import math
import re
import secrets
from collections.abc import Callable
from typing import Any

from litestar import Request, Response

from sandbox.common.faults import FaultKind
from sandbox.stripe import billing
from sandbox.stripe.forms import FormError, parse_form
from sandbox.stripe.runtime import StripeSandbox, new_id
from sandbox.stripe.state import IdempotentResult

Params = dict[str, Any]
Result = tuple[int, dict[str, Any]]


class StripeError(Exception):
    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        error: dict[str, Any] = {"type": type_, "message": message}
        if code is not None:
            error["code"] = code
        if param is not None:
            error["param"] = param
        self.body = {"error": error}
        self.headers = headers or {}


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(400, message, param=param, code=code)


def missing(kind: str, object_id: str) -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id")


# -- parameter helpers -------------------------------------------------------------------


def check_known(params: Params, allowed: set[str]) -> None:
    for name in params:
        if name not in allowed and name != "expand":
            raise invalid(f"Received unknown parameter: {name}", param=name, code="parameter_unknown")


def text(params: Params, name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid string: {name}", param=name)
    return value


def integer(params: Params, name: str, *, required: bool = False, minimum: int = 0) -> int | None:
    value = text(params, name, required=required)
    if value is None:
        return None
    if not re.fullmatch(r"-?\d+", value) or int(value) < minimum:
        raise invalid(f"Invalid integer: {value}", param=name, code="parameter_invalid_integer")
    return int(value)


def boolean(params: Params, name: str) -> bool | None:
    value = text(params, name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise invalid(f"Invalid boolean: {value}", param=name)
    return value == "true"


def metadata(params: Params, existing: dict[str, str] | None = None) -> dict[str, str]:
    current = dict(existing or {})
    value = params.get("metadata")
    if value is None:
        return current
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid("Invalid hash", param="metadata")
    for key, item in value.items():
        if not isinstance(item, str):
            raise invalid("Invalid hash", param=f"metadata[{key}]")
        if item == "":
            current.pop(key, None)
        else:
            current[key] = item
    if len(current) > 50:
        raise invalid("Metadata can have at most 50 keys.", param="metadata")
    return current


def page(sb: StripeSandbox, objects: list[dict[str, Any]], params: Params, url: str) -> dict[str, Any]:
    limit = integer(params, "limit", minimum=1) or 10
    if limit > 100:
        raise invalid("This value must be less than or equal to 100.", param="limit")
    after = text(params, "starting_after")
    if after is not None:
        ids = [o["id"] for o in objects]
        if after not in ids:
            raise invalid(f"No such object: '{after}'", param="starting_after", code="resource_missing")
        objects = objects[ids.index(after) + 1 :]
    return {"object": "list", "data": objects[:limit], "has_more": len(objects) > limit, "url": url}


def expand(sb: StripeSandbox, obj: dict[str, Any], params: Params) -> dict[str, Any]:
    paths = params.get("expand") or []
    if not paths:
        return obj
    out = copy.deepcopy(obj)
    for path in paths if isinstance(paths, list) else [paths]:
        _expand_path(sb, out, str(path).split("."))
    return out


def _expand_path(sb: StripeSandbox, node: Any, parts: list[str]) -> None:
    if not parts or not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    if head == "data" and isinstance(node.get("data"), list):
        for item in node["data"]:
            _expand_path(sb, item, rest)
        return
    value = node.get(head)
    if isinstance(value, str) and value in sb.state.objects and not rest:
        node[head] = copy.deepcopy(sb.state.objects[value])
    elif rest:
        if isinstance(value, str) and value in sb.state.objects:
            node[head] = value = copy.deepcopy(sb.state.objects[value])
        _expand_path(sb, value, rest)


def require(sb: StripeSandbox, kind: str, object_id: str) -> dict[str, Any]:
    obj = sb.get(object_id, kind)
    if obj is None:
        raise missing(kind.replace("_", " ").replace(".", " "), object_id)
    return obj


def reference(sb: StripeSandbox, kind: str, object_id: str, param: str) -> dict[str, Any]:
    """An object named by a parameter: unknown is a 400 on that param, as on Stripe."""
    obj = sb.get(object_id, kind)
    if obj is None:
        raise invalid(f"No such {kind}: '{object_id}'", param=param, code="resource_missing")
    return obj


# -- products ------------------------------------------------------------------------------

PRODUCT_FIELDS = {"name", "description", "active", "metadata", "url", "statement_descriptor", "unit_label"}


def create_product(sb: StripeSandbox, p: Params) -> Result:
    check_known(p, PRODUCT_FIELDS | {"id", "images", "default_price_data", "tax_code"})
    name = text(p, "name", required=True)
    product_id = text(p, "id") or new_id("product")
    if product_id in sb.state.objects:
        raise invalid("Product already exists.", param="id", code="resource_already_exists")
    now = sb.now()
    product = sb.put(
        {
            "id": product_id,
            "object": "product",
            "active": boolean(p, "active") is not False,
            "created": now,
            "default_price": None,
            "description": text(p, "description"),
            "images": [],
            "livemode": False,
            "marketing_features": [],
            "metadata": metadata(p),
            "name": name,
            "package_dimensions": None,
            "shippable": None,
            "statement_descriptor": text(p, "statement_descriptor"),
            "tax_code": None,
            "type": "service",
            "unit_label": text(p, "unit_label"),
            "updated": now,
            "url": text(p, "url"),
        }
    )
    return 200, product


def update_product(sb: StripeSandbox, product: dict[str, Any], p: Params) -> Result:
    check_known(p, PRODUCT_FIELDS | {"default_price", "images", "tax_code"})
    for name in ("name", "description", "url", "statement_descriptor", "unit_label"):
        if name in p:
            product[name] = text(p, name) if name != "name" else text(p, name, required=True)
    if (active := boolean(p, "active")) is not None:
        product["active"] = active
    if "default_price" in p:
        price_id = text(p, "default_price")
        if price_id is not None:
            reference(sb, "price", price_id, "default_price")
        product["default_price"] = price_id
    product["metadata"] = metadata(p, product["metadata"])
    product["updated"] = sb.now()
    return 200, product


def list_products(sb: StripeSandbox, p: Params) -> Result:
    objs = sb.of_kind("product")
    if (active := boolean(p, "active")) is not None:
        objs = [o for o in objs if o["active"] is active]
    return 200, page(sb, objs, p, "/v1/products")


# -- prices --------------------------------------------------------------------------------


def _claim_lookup_key(sb: StripeSandbox, key: str | None, transfer: bool, owner: str | None) -> None:
    if key is None:
        return
    for price in sb.of_kind("price"):
        if price["lookup_key"] == key and price["id"] != owner:
            if not transfer:
                raise invalid(f"A price (`{price['id']}`) already uses that lookup key.", param="lookup_key")
            price["lookup_key"] = None


def create_price(sb: StripeSandbox, p: Params) -> Result:
    check_known(
        p,
        {
            "product", "unit_amount", "currency", "recurring", "lookup_key", "transfer_lookup_key",
            "metadata", "nickname", "active", "unit_amount_decimal", "tax_behavior", "billing_scheme",
        },
    )  # fmt: skip
    product_id = text(p, "product", required=True)
    assert product_id is not None
    reference(sb, "product", product_id, "product")
    currency = (text(p, "currency", required=True) or "").lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise invalid(f"Invalid currency: {currency}.", param="currency")
    amount = integer(p, "unit_amount", required=True)
    recurring = p.get("recurring")
    recurring_json = None
    if recurring is not None:
        if not isinstance(recurring, dict):
            raise invalid("Invalid hash", param="recurring")
        interval = recurring.get("interval")
        if interval not in ("day", "week", "month", "year"):
            raise invalid(
                "Invalid recurring[interval]: must be one of day, month, week, or year",
                param="recurring[interval]",
            )
        count = integer(recurring, "interval_count", minimum=1) or 1
        recurring_json = {
            "interval": interval,
            "interval_count": count,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }
    lookup_key = text(p, "lookup_key")
    _claim_lookup_key(sb, lookup_key, boolean(p, "transfer_lookup_key") is True, None)
    price = sb.put(
        {
            "id": new_id("price"),
            "object": "price",
            "active": boolean(p, "active") is not False,
            "billing_scheme": "per_unit",
            "created": sb.now(),
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": lookup_key,
            "metadata": metadata(p),
            "nickname": text(p, "nickname"),
            "product": product_id,
            "recurring": recurring_json,
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring" if recurring_json else "one_time",
            "unit_amount": amount,
            "unit_amount_decimal": str(amount),
        }
    )
    return 200, price


def update_price(sb: StripeSandbox, price: dict[str, Any], p: Params) -> Result:
    # Prices are immutable on Stripe: `unit_amount`, `currency`, `recurring` are unknown here.
    check_known(p, {"active", "metadata", "lookup_key", "transfer_lookup_key", "nickname", "tax_behavior"})
    if (active := boolean(p, "active")) is not None:
        price["active"] = active
    if "lookup_key" in p:
        key = text(p, "lookup_key")
        _claim_lookup_key(sb, key, boolean(p, "transfer_lookup_key") is True, price["id"])
        price["lookup_key"] = key
    if "nickname" in p:
        price["nickname"] = text(p, "nickname")
    price["metadata"] = metadata(p, price["metadata"])
    return 200, price


def list_prices(sb: StripeSandbox, p: Params) -> Result:
    objs = sb.of_kind("price")
    if (active := boolean(p, "active")) is not None:
        objs = [o for o in objs if o["active"] is active]
    if (product := text(p, "product")) is not None:
        objs = [o for o in objs if o["product"] == product]
    if (kind := text(p, "type")) is not None:
        objs = [o for o in objs if o["type"] == kind]
    if "lookup_keys" in p:
        keys = p["lookup_keys"] if isinstance(p["lookup_keys"], list) else [p["lookup_keys"]]
        objs = [o for o in objs if o["lookup_key"] in keys]
    return 200, page(sb, objs, p, "/v1/prices")


# -- customers -----------------------------------------------------------------------------

CUSTOMER_FIELDS = {"email", "name", "metadata", "description", "phone"}


def create_customer(sb: StripeSandbox, p: Params) -> Result:
    check_known(p, CUSTOMER_FIELDS | {"address", "payment_method", "preferred_locales"})
    fields = {name: text(p, name) for name in ("email", "name", "description", "phone")}
    return 200, billing.create_customer(sb, {**fields, "metadata": metadata(p)})


def update_customer(sb: StripeSandbox, customer: dict[str, Any], p: Params) -> Result:
    check_known(p, CUSTOMER_FIELDS | {"address", "preferred_locales"})
    for name in ("email", "name", "description", "phone"):
        if name in p:
            customer[name] = text(p, name)
    customer["metadata"] = metadata(p, customer["metadata"])
    return 200, customer


def list_customers(sb: StripeSandbox, p: Params) -> Result:
    objs = sb.of_kind("customer")
    if (email := text(p, "email")) is not None:
        objs = [o for o in objs if o["email"] == email]
    return 200, page(sb, objs, p, "/v1/customers")


# -- checkout and portal -------------------------------------------------------------------


# The Checkout UI modes of API version 2026-10-28.endive, as the Stripe SDK pinned to it types
# them (stripe-python 16.1, `stripe/checkout/_session.py`); earlier versions said `hosted`.
CHECKOUT_UI_MODES = ("elements", "embedded_page", "form", "hosted_page")


def checkout_ui_mode(p: Params) -> str:
    ui_mode = text(p, "ui_mode") or "hosted_page"
    if ui_mode not in CHECKOUT_UI_MODES:
        choices = ", ".join(CHECKOUT_UI_MODES[:-1]) + f", or {CHECKOUT_UI_MODES[-1]}"
        raise invalid(f"Invalid ui_mode: must be one of {choices}", param="ui_mode")
    if ui_mode != "hosted_page":
        raise invalid(f"The sandbox only emulates ui_mode=hosted_page (got {ui_mode}).", param="ui_mode")
    return ui_mode


def create_checkout_session(sb: StripeSandbox, p: Params) -> Result:
    check_known(
        p,
        {
            "mode", "line_items", "customer", "customer_email", "success_url", "cancel_url",
            "client_reference_id", "metadata", "subscription_data", "allow_promotion_codes",
            "billing_address_collection", "payment_method_types", "locale", "ui_mode",
        },
    )  # fmt: skip
    mode = text(p, "mode", required=True)
    if mode != "subscription":
        raise invalid(f"The sandbox only emulates mode=subscription (got {mode}).", param="mode")
    ui_mode = checkout_ui_mode(p)
    success_url = text(p, "success_url", required=True)
    customer = text(p, "customer")
    if customer is not None:
        reference(sb, "customer", customer, "customer")
    raw_items = p.get("line_items")
    if not isinstance(raw_items, list) or not raw_items:
        raise invalid("Missing required param: line_items.", param="line_items", code="parameter_missing")
    lines = []
    currency = None
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            raise invalid("Invalid hash", param=f"line_items[{index}]")
        price_id = text(raw, "price", required=True)
        assert price_id is not None
        price = sb.get(price_id, "price")
        if price is None:
            raise invalid(
                f"No such price: '{price_id}'", param=f"line_items[{index}][price]", code="resource_missing"
            )
        if not price["active"]:
            raise invalid("The price specified is inactive.", param=f"line_items[{index}][price]")
        if price["recurring"] is None:
            raise invalid(
                "You must specify at least one recurring price in `subscription` mode when using prices.",
                param=f"line_items[{index}][price]",
            )
        if currency is not None and price["currency"] != currency:
            raise invalid("All prices must use the same currency.", param=f"line_items[{index}][price]")
        currency = price["currency"]
        quantity = integer(raw, "quantity", minimum=1) or 1
        lines.append(
            {
                "id": "li_" + secrets.token_hex(12),
                "object": "item",
                "amount_discount": 0,
                "amount_subtotal": price["unit_amount"] * quantity,
                "amount_tax": 0,
                "amount_total": price["unit_amount"] * quantity,
                "currency": price["currency"],
                "description": (sb.get(price["product"], "product") or {}).get("name"),
                "price": copy.deepcopy(price),
                "quantity": quantity,
            }
        )
    sub_data = p.get("subscription_data") or {}
    if not isinstance(sub_data, dict):
        raise invalid("Invalid hash", param="subscription_data")
    check_known(sub_data, {"trial_period_days", "metadata", "description"})
    trial_days = integer(sub_data, "trial_period_days", minimum=1)
    if trial_days is not None and trial_days > 730:
        raise invalid("trial_period_days must be at most 730.", param="subscription_data[trial_period_days]")
    session_id = new_id("checkout.session")
    total = sum(line["amount_total"] for line in lines)
    now = sb.now()
    session = sb.put(
        {
            "id": session_id,
            "object": "checkout.session",
            "allow_promotion_codes": None,
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": text(p, "cancel_url"),
            "client_reference_id": text(p, "client_reference_id"),
            "created": now,
            "currency": currency,
            "customer": customer,
            "customer_details": None,
            "customer_email": text(p, "customer_email"),
            "expires_at": now + sb.config.checkout_session_ttl,
            "invoice": None,
            "livemode": False,
            "locale": None,
            "metadata": metadata(p),
            "mode": mode,
            "payment_status": "unpaid",
            "status": "open",
            "subscription": None,
            "success_url": success_url,
            "ui_mode": ui_mode,
            "url": f"{sb.config.public_base}/checkout/{session_id}",
        }
    )
    sb.state.session_private[session_id] = {
        "line_items": lines,
        "subscription_data": {
            "trial_period_days": trial_days,
            "metadata": metadata(sub_data),
        },
    }
    return 200, session


def session_line_items(sb: StripeSandbox, session: dict[str, Any], p: Params) -> Result:
    lines = sb.state.session_private.get(session["id"], {}).get("line_items", [])
    return 200, page(sb, lines, p, f"/v1/checkout/sessions/{session['id']}/line_items")


def expire_session(sb: StripeSandbox, session: dict[str, Any], p: Params) -> Result:
    if session["status"] != "open":
        raise invalid("Only Checkout Sessions with a status of `open` can be expired.")
    session.update({"status": "expired", "url": None})
    return 200, session


def create_portal_session(sb: StripeSandbox, p: Params) -> Result:
    check_known(p, {"customer", "return_url", "configuration", "locale", "flow_data"})
    customer = text(p, "customer", required=True)
    assert customer is not None
    reference(sb, "customer", customer, "customer")
    session_id = new_id("billing_portal.session")
    return 200, sb.put(
        {
            "id": session_id,
            "object": "billing_portal.session",
            "configuration": "bpc_sandbox",
            "created": sb.now(),
            "customer": customer,
            "flow": None,
            "livemode": False,
            "locale": None,
            "on_behalf_of": None,
            "return_url": text(p, "return_url"),
            "url": f"{sb.config.public_base}/portal/{session_id}",
        }
    )


# -- subscriptions, invoices, events ------------------------------------------------------


def list_subscriptions(sb: StripeSandbox, p: Params) -> Result:
    objs = sb.of_kind("subscription")
    if (customer := text(p, "customer")) is not None:
        objs = [o for o in objs if o["customer"] == customer]
    if (price := text(p, "price")) is not None:
        objs = [o for o in objs if any(i["price"]["id"] == price for i in billing.items_of(o))]
    status = text(p, "status")
    if status is None:
        objs = [o for o in objs if o["status"] != "canceled"]
    elif status != "all":
        objs = [o for o in objs if o["status"] == status]
    return 200, page(sb, objs, p, "/v1/subscriptions")


def update_subscription(sb: StripeSandbox, sub: dict[str, Any], p: Params) -> Result:
    check_known(p, {"items", "proration_behavior", "cancel_at_period_end", "metadata", "payment_behavior"})
    proration = text(p, "proration_behavior") or "create_prorations"
    if proration not in ("create_prorations", "none", "always_invoice"):
        raise invalid(f"Invalid proration_behavior: {proration}", param="proration_behavior")
    try:
        if "items" in p:
            if not isinstance(p["items"], list):
                raise invalid("Invalid array", param="items")
            billing.switch_items(sb, sub, p["items"], proration)
        if (flag := boolean(p, "cancel_at_period_end")) is not None:
            billing.set_cancel_at_period_end(sb, sub, flag)
    except billing.BillingError as exc:
        raise invalid(str(exc), param=exc.param) from exc
    if "metadata" in p:
        before = dict(sub["metadata"])
        sub["metadata"] = metadata(p, sub["metadata"])
        if before != sub["metadata"]:
            sb.emit("customer.subscription.updated", sub, {"metadata": before})
    return 200, sub


def cancel_subscription(sb: StripeSandbox, sub: dict[str, Any], p: Params) -> Result:
    check_known(p, {"invoice_now", "prorate", "cancellation_details"})
    try:
        billing.cancel_now(sb, sub)
    except billing.BillingError as exc:
        raise invalid(str(exc), code="resource_missing") from exc
    return 200, sub


def list_invoices(sb: StripeSandbox, p: Params) -> Result:
    objs = sb.of_kind("invoice")
    if (customer := text(p, "customer")) is not None:
        objs = [o for o in objs if o["customer"] == customer]
    if (sub := text(p, "subscription")) is not None:
        objs = [o for o in objs if o["parent"]["subscription_details"]["subscription"] == sub]
    if (status := text(p, "status")) is not None:
        objs = [o for o in objs if o["status"] == status]
    return 200, page(sb, objs, p, "/v1/invoices")


def list_events(sb: StripeSandbox, p: Params) -> Result:
    objs = sb.of_kind("event")
    if (kind := text(p, "type")) is not None:
        objs = [o for o in objs if o["type"] == kind]
    return 200, page(sb, objs, p, "/v1/events")


def list_sessions(sb: StripeSandbox, p: Params) -> Result:
    objs = sb.of_kind("checkout.session")
    for name in ("customer", "subscription", "status"):
        if (value := text(p, name)) is not None:
            objs = [o for o in objs if o[name] == value]
    return 200, page(sb, objs, p, "/v1/checkout/sessions")


# -- routing -------------------------------------------------------------------------------

Collection = Callable[[StripeSandbox, Params], Result]
Member = Callable[[StripeSandbox, dict[str, Any], Params], Result]

COLLECTIONS: dict[tuple[str, str], Collection] = {
    ("POST", "products"): create_product,
    ("GET", "products"): list_products,
    ("POST", "prices"): create_price,
    ("GET", "prices"): list_prices,
    ("POST", "customers"): create_customer,
    ("GET", "customers"): list_customers,
    ("POST", "checkout/sessions"): create_checkout_session,
    ("GET", "checkout/sessions"): list_sessions,
    ("POST", "billing_portal/sessions"): create_portal_session,
    ("GET", "subscriptions"): list_subscriptions,
    ("GET", "invoices"): list_invoices,
    ("GET", "events"): list_events,
}
KINDS = {
    "products": "product",
    "prices": "price",
    "customers": "customer",
    "checkout/sessions": "checkout.session",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "events": "event",
}


def _retrieve(_sb: StripeSandbox, obj: dict[str, Any], _p: Params) -> Result:
    return 200, obj


MEMBERS: dict[tuple[str, str, str], Member] = {
    ("POST", "products", ""): update_product,
    ("POST", "prices", ""): update_price,
    ("POST", "customers", ""): update_customer,
    ("POST", "subscriptions", ""): update_subscription,
    ("DELETE", "subscriptions", ""): cancel_subscription,
    ("GET", "checkout/sessions", "line_items"): session_line_items,
    ("POST", "checkout/sessions", "expire"): expire_session,
}
_MEMBER_PATH = re.compile(r"^(checkout/sessions|[a-z_]+)/([A-Za-z0-9_]+)(?:/([a-z_]+))?$")


def route(sb: StripeSandbox, method: str, path: str, params: Params) -> Result:
    collection = COLLECTIONS.get((method, path))
    if collection is not None:
        return collection(sb, params)
    match = _MEMBER_PATH.match(path)
    if match is not None and match.group(1) in KINDS:
        resource, object_id, action = match.group(1), match.group(2), match.group(3) or ""
        handler = MEMBERS.get((method, resource, action))
        if handler is None and method == "GET" and not action:
            handler = _retrieve
        if handler is not None:
            obj = require(sb, KINDS[resource], object_id)
            return handler(sb, obj, params)
    raise StripeError(404, f"Unrecognized request URL ({method}: /v1/{path}).", type_="invalid_request_error")


# -- the HTTP layer ------------------------------------------------------------------------


def _fault_response(sb: StripeSandbox, kind: FaultKind, seconds: float) -> Response[Any] | None:
    if kind is FaultKind.HTTP_500:
        return _json(500, {"error": {"type": "api_error", "message": "An unknown error occurred"}})
    if kind is FaultKind.RATE_LIMIT:
        retry_after = max(1, math.ceil(seconds))
        return _json(
            429,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "message": "Request rate limit exceeded. Learn more about rate limits here "
                    "https://stripe.com/docs/rate-limits.",
                }
            },
            {"Retry-After": str(retry_after), "Stripe-Should-Retry": "false"},
        )
    return None


IDEMPOTENCY_TTL = 24 * 3600  # Stripe keeps idempotency keys for at least 24 hours


def _json(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None, request_id: str | None = None
) -> Response[Any]:
    return Response(
        content=json.dumps(body, indent=2).encode(),
        status_code=status,
        media_type="application/json",
        headers={
            "Request-Id": request_id or "req_" + secrets.token_hex(7),
            "Cache-Control": "no-cache, no-store",
            **(headers or {}),
        },
    )


def _authenticate(sb: StripeSandbox, request: Request[Any, Any, Any]) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() == "basic":
        import base64
        import binascii

        try:
            credential = base64.b64decode(credential).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            credential = ""
    elif scheme.lower() != "bearer":
        credential = ""
    if not credential:
        raise StripeError(
            401,
            "You did not provide an API key. You need to provide your API key in the Authorization "
            "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    if not secrets.compare_digest(credential.encode(), sb.config.secret_key.encode()):
        shown = credential[:8] + "*" * 10 + credential[-4:] if len(credential) > 12 else "***"
        raise StripeError(401, f"Invalid API Key provided: {shown}", code="api_key_invalid")


async def handle(sb: StripeSandbox, request: Request[Any, Any, Any]) -> Response[Any]:
    method = request.method.upper()
    path = request.url.path.removeprefix("/v1/")
    fault = sb.faults.take(request.url.path)
    if fault is not None:
        response = _fault_response(sb, fault.kind, fault.seconds)
        if response is not None:
            return response
        await sb.config.fault_sleep(fault.seconds)  # timeout: stall, then answer as usual
    version_header = {"Stripe-Version": request.headers.get("stripe-version") or sb.config.api_version}
    key = request.headers.get("idempotency-key") if method in ("POST", "DELETE") else None
    try:
        _authenticate(sb, request)
        raw = await request.body() if method == "POST" else request.scope.get("query_string", b"")
        try:
            params = parse_form(raw)
        except (FormError, UnicodeDecodeError) as exc:
            raise invalid(str(exc)) from exc
        fingerprint = json.dumps([method, path, params], sort_keys=True)
        if key:
            previous = sb.state.idempotency.get(key)
            if previous is not None:
                if previous.fingerprint != fingerprint:
                    raise StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they "
                        f"were first used with. Try using a key other than '{key}' if you meant to "
                        "execute a different request.",
                        type_="idempotency_error",
                    )
                return _json(
                    previous.status_code,
                    previous.body,
                    {**version_header, "Idempotency-Key": key, "Idempotent-Replayed": "true"},
                )
        request_id = "req_" + secrets.token_hex(7)
        sb.current_request = {"id": request_id, "idempotency_key": key}
        try:
            status, body = route(sb, method, path, params)
            body = expand(sb, body, params)
        except StripeError as exc:
            sb.discard_pending()
            status, body = exc.status_code, exc.body
        finally:
            sb.current_request = {"id": None, "idempotency_key": None}
        sb.dispatch()
        if key:
            now = sb.config.clock()
            expired = [k for k, r in sb.state.idempotency.items() if r.created < now - IDEMPOTENCY_TTL]
            for old in expired:
                del sb.state.idempotency[old]
            sb.state.idempotency[key] = IdempotentResult(fingerprint, status, copy.deepcopy(body), now)
        if method != "GET" or key:
            await sb.save()
    except StripeError as exc:
        return _json(exc.status_code, exc.body, {**version_header, **exc.headers})
    headers = {**version_header, **({"Idempotency-Key": key} if key else {})}
    return _json(status, body, headers, request_id)
