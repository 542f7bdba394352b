"""`create_stripe_sandbox(config)`: the Stripe sandbox as a Litestar app.

Emulated Stripe: `GET|POST|DELETE /v1/...` (see sandbox.stripe.api), the hosted Checkout
page `GET /checkout/{id}` and the customer portal `GET /portal/{id}` (sandbox.stripe.pages),
webhooks to the registered endpoints. Also `GET /healthz`, `GET /` (start page) and the
control API under `/_sandbox/` (JSON, no auth, development only; never faulted).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import escape
from typing import Any

from litestar import Litestar, Request, Response, delete, get, post, route
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from sandbox.common.app import health_handler
from sandbox.common.errors import EXCEPTION_HANDLERS, bad_request, json_object_body, not_found
from sandbox.common.faults import FaultKind
from sandbox.common.pages import html_page, table
from sandbox.stripe import api, billing
from sandbox.stripe.config import StripeSandboxConfig
from sandbox.stripe.pages import money, page_handlers
from sandbox.stripe.runtime import PREFIXES, StripeSandbox

STATE_KEY = "stripe_sandbox"
DEFAULT_FAULT_SECONDS = {FaultKind.HTTP_500: 0.0, FaultKind.TIMEOUT: 30.0, FaultKind.RATE_LIMIT: 1.0}
WEBHOOK_FAULTS = ("duplicate", "out_of_order")


def create_stripe_sandbox(config: StripeSandboxConfig | None = None) -> Litestar:
    sandbox = StripeSandbox(config or StripeSandboxConfig())

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        await sandbox.start()
        try:
            yield
        finally:
            await sandbox.stop()

    @route("/v1/{rest:path}", http_method=["GET", "POST", "DELETE"], status_code=200)
    async def stripe_api(request: Request[Any, Any, Any], rest: FromPath[str]) -> Response[Any]:
        return await api.handle(sandbox, request)

    return Litestar(
        route_handlers=[
            stripe_api,
            health_handler("stripe"),
            *page_handlers(sandbox),
            *control_handlers(sandbox),
            start_page(sandbox),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        state=State({STATE_KEY: sandbox}),
        openapi_config=None,
        logging_config=None,
    )


def stripe_sandbox_of(app: Litestar) -> StripeSandbox:
    """The running sandbox behind an app made by create_stripe_sandbox (for tests)."""
    sandbox = app.state[STATE_KEY]
    assert isinstance(sandbox, StripeSandbox)
    return sandbox


def _positive_int(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise bad_request(f"{name} must be a non-negative integer")
    return value


def control_handlers(sb: StripeSandbox) -> list[ControllerRouterHandler]:
    @post("/_sandbox/reset", status_code=200)
    async def reset() -> dict[str, str]:
        await sb.reset()
        return {"status": "reset"}

    @get("/_sandbox/objects")
    async def objects(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Every object, newest first; query `type` (e.g. `subscription`) narrows it."""
        kind = request.query_params.get("type")
        if kind is not None and kind not in PREFIXES:
            raise bad_request(f"type must be one of {sorted(PREFIXES)}")
        data = [o for o in reversed(sb.state.objects.values()) if kind is None or o["object"] == kind]
        return {"object": "list", "data": data}

    @get("/_sandbox/clock")
    async def clock() -> dict[str, Any]:
        return {
            "now": sb.now(),
            "offset": sb.state.clock_offset,
            "failing_payments": sb.state.failing_payments,
        }

    @post("/_sandbox/clock/advance", status_code=200)
    async def advance(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Body: {"seconds"?: n, "days"?: n, "fail_payments"?: n}. Moves the sandbox clock and
        runs what is due: renewals (paid, or the next `fail_payments` ones failing), trial
        ends, cancellations at period end."""
        body = await json_object_body(request, optional=True)
        seconds = _positive_int(body, "seconds", 0) + 86400 * _positive_int(body, "days", 0)
        if "fail_payments" in body:
            sb.state.failing_payments = _positive_int(body, "fail_payments", 0)
        sb.state.clock_offset += seconds
        counts = billing.run_clock(sb)
        sb.dispatch()
        await sb.save()
        return {"now": sb.now(), **counts}

    @post("/_sandbox/payments/fail", status_code=200)
    async def fail_payments(request: Request[Any, Any, Any]) -> dict[str, int]:
        """Body: {"count": n}: the next n renewals fail (`invoice.payment_failed`, past_due)."""
        body = await json_object_body(request, optional=True)
        sb.state.failing_payments = _positive_int(body, "count", 1)
        await sb.save()
        return {"failing_payments": sb.state.failing_payments}

    @post("/_sandbox/subscriptions/{sub_id:str}/trial_will_end", status_code=200)
    async def trial_will_end(sub_id: FromPath[str]) -> dict[str, Any]:
        sub = sb.get(sub_id, "subscription")
        if sub is None:
            raise not_found(f"No such subscription: {sub_id}")
        try:
            billing.trial_will_end(sb, sub)
        except billing.BillingError as exc:
            raise bad_request(str(exc)) from exc
        sb.dispatch()
        await sb.save()
        return {"status": "sent", "subscription": sub_id}

    @get("/_sandbox/webhook_endpoints")
    async def list_endpoints() -> dict[str, Any]:
        return {"data": list(sb.state.webhook_endpoints.values())}

    @post("/_sandbox/webhook_endpoints", status_code=201)
    async def add_endpoint(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Body: {"url": ..., "secret"?: "whsec_..."} (a secret is generated when absent)."""
        body = await json_object_body(request, optional=False)
        url, secret = body.get("url"), body.get("secret")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise bad_request("url must be an http(s) URL")
        if secret is not None and (not isinstance(secret, str) or not secret.startswith("whsec_")):
            raise bad_request("secret must be a string starting with whsec_")
        endpoint = sb.add_endpoint(url, secret)
        await sb.save()
        return endpoint

    @delete("/_sandbox/webhook_endpoints/{endpoint_id:str}", status_code=200)
    async def remove_endpoint(endpoint_id: FromPath[str]) -> dict[str, Any]:
        if sb.state.webhook_endpoints.pop(endpoint_id, None) is None:
            raise not_found(f"No such webhook endpoint: {endpoint_id}")
        await sb.save()
        return {"id": endpoint_id, "deleted": True}

    @get("/_sandbox/deliveries")
    async def deliveries(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Every delivery attempt, oldest first; query `event_id` and `type` narrow it."""
        event_id, type = request.query_params.get("event_id"), request.query_params.get("type")
        data = [
            d
            for d in sb.state.deliveries
            if (event_id is None or d["event_id"] == event_id) and (type is None or d["type"] == type)
        ]
        return {"data": data}

    @get("/_sandbox/faults")
    async def list_faults() -> dict[str, Any]:
        return {"data": [f.as_json() for f in sb.faults.active()], "webhooks": sb.state.webhook_faults}

    @post("/_sandbox/faults", status_code=201)
    async def add_fault(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """API faults: {"kind": "http_500"|"timeout"|"rate_limit", "count": 1, "path_prefix":
        "/v1/", "seconds": stall (timeout) or Retry-After (rate_limit)}. Webhook faults:
        {"kind": "duplicate"|"out_of_order", "count": n}: the next n batches of events (one
        batch per API call, payment or clock advance) are sent twice / in reverse order."""
        body = await json_object_body(request, optional=False)
        kind = str(body.get("kind"))
        count = body.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise bad_request("count must be a positive integer")
        if kind in WEBHOOK_FAULTS:
            sb.state.webhook_faults[kind] = sb.state.webhook_faults.get(kind, 0) + count
            await sb.save()
            return {"kind": kind, "remaining": sb.state.webhook_faults[kind]}
        try:
            fault_kind = FaultKind(kind)
        except ValueError as exc:
            kinds = [k.value for k in FaultKind] + list(WEBHOOK_FAULTS)
            raise bad_request(f"kind must be one of {kinds}") from exc
        path_prefix = body.get("path_prefix", "/v1/")
        seconds = body.get("seconds", DEFAULT_FAULT_SECONDS[fault_kind])
        if not isinstance(path_prefix, str) or not path_prefix.startswith("/"):
            raise bad_request("path_prefix must be a path starting with /")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise bad_request("seconds must be a non-negative number")
        fault = sb.faults.add(fault_kind, path_prefix=path_prefix, count=count, seconds=float(seconds))
        return fault.as_json()

    @delete("/_sandbox/faults", status_code=200)
    async def clear_faults() -> dict[str, int]:
        cleared = sb.faults.clear() + sum(sb.state.webhook_faults.values())
        sb.state.webhook_faults.clear()
        await sb.save()
        return {"cleared": cleared}

    return [
        reset, objects, clock, advance, fail_payments, trial_will_end, list_endpoints, add_endpoint,
        remove_endpoint, deliveries, list_faults, add_fault, clear_faults,
    ]  # fmt: skip


def start_page(sb: StripeSandbox) -> ControllerRouterHandler:
    @get("/")
    async def start() -> Response[Any]:
        config = sb.config
        prices = [
            [
                p["id"],
                p["product"],
                money(p["unit_amount"], p["currency"]),
                p["lookup_key"] or "",
                str(p["active"]),
            ]
            for p in sb.of_kind("price")
        ]
        subs = [
            [s["id"], s["customer"], s["status"], str(s["cancel_at_period_end"])]
            for s in sb.of_kind("subscription")
        ]
        price_table = table(["id", "product", "amount", "lookup key", "active"], prices, "No prices yet.")
        sub_table = table(["id", "customer", "status", "cancels"], subs, "No subscriptions yet.")
        endpoints = (
            "".join(
                f"<li><code>{escape(e['url'])}</code> ({escape(e['id'])})</li>"
                for e in sb.state.webhook_endpoints.values()
            )
            or '<li class="muted">none</li>'
        )
        body = (
            "<h1>Stripe sandbox</h1>"
            "<p>Stands in for the Stripe API (products, prices, customers, Checkout, the customer "
            "portal, subscriptions, invoices, events and signed webhooks) on 127.0.0.1.</p>"
            f"<p>API base: <code>{escape(config.public_base)}</code> · API version "
            f"<code>{escape(config.api_version)}</code> · secret key "
            f"<code>{escape(config.secret_key)}</code></p>"
            "<p>Point the official SDK at it: <code>stripe.StripeClient(key, base_addresses="
            f"{{&quot;api&quot;: &quot;{escape(config.public_base)}&quot;}})</code>.</p>"
            f"<h2>Webhook endpoints</h2><ul>{endpoints}</ul>"
            f"<h2>Prices</h2>{price_table}<h2>Subscriptions</h2>{sub_table}"
            "<p>Control API: <code>/_sandbox/reset</code>, <code>/_sandbox/objects</code>, "
            "<code>/_sandbox/clock/advance</code>, <code>/_sandbox/deliveries</code>, "
            "<code>/_sandbox/webhook_endpoints</code>, <code>/_sandbox/faults</code> "
            "(see sandbox/README.md).</p>"
        )
        return html_page("Stripe sandbox", body)

    return start
