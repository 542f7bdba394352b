"""Webhook intake: verify the signature over the raw body, store once, answer at once.

Shopify and the CRM call these routes far more often than people load pages, and they need
none of what Litestar's stack runs for pages (session, CSRF, templates, the HTMX request,
two layers of exception middleware): together that cost more than verifying and storing.
So they are a plain ASGI app that onboarding/app.py puts in front of Litestar, inside the
request id + access log and security header layers that wrap every response. An exception
escaping from here is answered there, as JSON without a trace.

Stripe's route shares the path (body limit, answers, storing once, waking the worker), but
its check is billing's (the Stripe SDK, which this layer does not know): onboarding hands
one in as an EventVerifier when Stripe is configured.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol, cast

from litestar.types import Receive, Scope, Send
from shopify_app import Res, ShopifyApp

from connectors.crm_webhooks import verify_crm_webhook
from connectors.shopify_auth import valid_shop_domain
from jobqueue.inbox import InboxWriter, IncomingEvent, parse_json_object
from jobqueue.tables import WebhookSource
from jobqueue.tracing import current_trace_context
from lib import metrics

# What Litestar allowed these routes before (its default request_max_body_size).
MAX_BODY_BYTES = 10_000_000

# Our JSON answer, or a refusal of Shopify's package passed on as it made it.
Answer = tuple[int, dict[str, str]] | Res
Handler = Callable[["WebhookRequest"], Awaitable[Answer]]


@dataclass(frozen=True)
class WebhookRequest:
    headers: Mapping[str, str]  # lowercase names; the first value of a repeated header
    body: bytes


class InvalidSignature(Exception):
    """The delivery's signature does not hold: 401, nothing stored."""


class NotAnEvent(Exception):
    """Signed, but not an event the route takes: 400 with this message, nothing stored."""


class EventVerifier(Protocol):
    """A sender's own check of a delivery: the event it carries (its delivery id, topic and
    shop, and the body as it arrived), or InvalidSignature / NotAnEvent. Headers as in
    WebhookRequest."""

    async def __call__(self, headers: Mapping[str, str], body: bytes, /) -> IncomingEvent: ...


# The keys a Shopify topic's body always has (Shopify's documented payloads, as the sandbox's
# sandbox/shopify/payloads.py builds them), for every topic the registry (sync/topics.py) takes:
# the body must have every key of one of its alternatives. The HMAC covers the body only, so the
# topic header is believed only when the signed body is of that topic's kind: a captured
# products/update body re-sent as app/uninstalled or shop/redact is refused. A topic not listed
# here is stored as it comes (the inbox ignores what no handler takes).
SHOPIFY_TOPIC_SHAPES: dict[str, tuple[frozenset[str], ...]] = {
    topic: tuple(frozenset(keys) for keys in alternatives)
    for topics, alternatives in (
        (("app/uninstalled",), (("id", "myshopify_domain"),)),
        (("app_subscriptions/update",), (("app_subscription",),)),
        (("customers/data_request", "customers/redact"), (("shop_domain", "customer"),)),
        (("shop/redact",), (("shop_domain",),)),
        (("products/create", "products/update"), (("id", "title"), ("id", "variants"))),
        (("products/delete",), (("id",),)),
        (("collections/create", "collections/update", "collections/delete"), (("id",),)),
        (("customers/create", "customers/update", "customers/delete"), (("id",),)),
        (("orders/create", "orders/updated"), (("id", "line_items"),)),
        (("fulfillments/create", "fulfillments/update"), (("id", "order_id"),)),
        (("bulk_operations/finish",), (("admin_graphql_api_id",),)),
    )
    for topic in topics
}

# Where a topic's signed body names the shop it is about: it must be the shop the (unsigned)
# X-Shopify-Shop-Domain header names.
SHOPIFY_SHOP_KEYS: dict[str, str] = {
    "app/uninstalled": "myshopify_domain",
    "shop/redact": "shop_domain",
    "customers/redact": "shop_domain",
    "customers/data_request": "shop_domain",
}


def shopify_shape_holds(topic: str, payload: Mapping[str, object]) -> bool:
    """Whether the body has the keys every `topic` body has (any body, for a topic not listed)."""
    alternatives = SHOPIFY_TOPIC_SHAPES.get(topic)
    return alternatives is None or any(keys <= payload.keys() for keys in alternatives)


def shopify_shop_matches(topic: str, payload: Mapping[str, object], shop_domain: str | None) -> bool:
    """Whether the shop the signed body names (if its topic names one) is the header's shop."""
    key = SHOPIFY_SHOP_KEYS.get(topic)
    if key is None:
        return True
    named = payload.get(key)
    return shop_domain is not None and isinstance(named, str) and named.lower() == shop_domain


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


class ShopsOfCrmAccounts:
    """The shop a CRM account belongs to, remembered once found.

    CRM webhooks name the account, not the shop, and looking it up was the intake's one
    database query. An account never moves to another shop: a reinstalled shop gets a new
    one, and events of an account whose shop is gone find no live funnel to act on. An
    account not found yet is asked again next time (it may be mid-install).
    """

    def __init__(self, lookup: Callable[[str], Awaitable[str | None]], max_entries: int = 10_000) -> None:
        self.lookup = lookup
        self.max_entries = max_entries
        self._known: dict[str, str] = {}

    async def __call__(self, account_id: str) -> str | None:
        shop_domain = self._known.get(account_id)
        if shop_domain is None:
            shop_domain = await self.lookup(account_id)
            if shop_domain is not None:
                if len(self._known) >= self.max_entries:
                    self._known.clear()  # bounded; the busy accounts come back at once
                self._known[account_id] = shop_domain
        return shop_domain


class WebhookIntake:
    """POST /webhooks/shopify, POST /webhooks/crm and POST /webhooks/stripe."""

    def __init__(
        self,
        inbox: InboxWriter,
        wake_worker: Callable[[], None],
        *,
        shopify_app: ShopifyApp,
        crm_secrets: Iterable[str],
        shop_of_crm_account: Callable[[str], Awaitable[str | None]],
        stripe_verifier: EventVerifier | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.inbox = inbox
        self.wake_worker = wake_worker
        # Shopify's own package checks Shopify's signature (and the previous secret during a
        # rotation, which the app was given).
        self.shopify_app = shopify_app
        self.crm_secrets = tuple(crm_secrets)
        self.max_body_bytes = max_body_bytes
        self.shop_of_crm_account = ShopsOfCrmAccounts(shop_of_crm_account)
        self.stripe_verifier = stripe_verifier
        self.routes: dict[str, Handler] = {
            "/webhooks/shopify": self.shopify,
            "/webhooks/crm": self.crm,
            "/webhooks/stripe": self.stripe,
        }

    def route(self, path: str) -> Handler | None:
        handler = self.routes.get(path)
        if handler is None and "/webhooks/" in path:
            # Litestar's routing ignores repeated and trailing slashes (an app URL configured
            # with a trailing slash yields "//webhooks/shopify"); these routes do too.
            handler = self.routes.get("/" + "/".join(part for part in path.split("/") if part))
        return handler

    async def shopify(self, request: WebhookRequest) -> Answer:
        headers = request.headers
        try:
            # The package checks the signature over the body as UTF-8 text, which is what JSON
            # between systems must be (RFC 8259 section 8.1) and what Shopify sends.
            body = request.body.decode()
        except UnicodeDecodeError:
            return 400, {"error": "the body is not UTF-8 JSON"}
        # The package's request shape, built from what the intake already holds: the headers are
        # already a plain dict, and the URL is not part of a webhook's signature.
        try:
            verified = self.shopify_app.verify_webhook_req(
                {"method": "POST", "headers": dict(headers), "url": "", "body": body}
            )
        except RecursionError:  # the package parses the body for its log; one this deep is no event
            return 400, {"error": "not a JSON event"}
        if not verified.ok:
            return verified.response
        webhook_id = headers.get("x-shopify-webhook-id", "")
        topic = headers.get("x-shopify-topic", "")
        payload = parse_json_object(request.body)
        if not webhook_id or not topic or payload is None:
            return 400, {"error": "missing webhook id, topic or JSON body"}
        # An event reaches us once per subscription (shopify.app.toml's and the shop's own), each
        # delivery with its own webhook id; Shopify's key for telling such duplicates apart is
        # X-Shopify-Event-Id (shopify.dev/docs/apps/build/webhooks/ignore-duplicates).
        event_id = headers.get("x-shopify-event-id")
        delivery_id = f"event:{topic}:{event_id}" if event_id else webhook_id
        shop_domain = valid_shop_domain(headers.get("x-shopify-shop-domain"))
        if not shopify_shop_matches(topic, payload, shop_domain):
            # The headers are not the ones Shopify signed this body with (a captured delivery
            # re-sent for another shop): as unauthenticated as a wrong signature.
            return 401, {"error": "the signed body names another shop"}
        if not shopify_shape_holds(topic, payload):
            return 400, {"error": f"the body is not a {topic} event"}
        return await self._record(
            IncomingEvent(WebhookSource.SHOPIFY, delivery_id, topic, shop_domain, payload, request.body)
        )

    async def crm(self, request: WebhookRequest) -> Answer:
        headers = request.headers
        if not verify_crm_webhook(
            request.body, headers.get("x-crm-signature"), self.crm_secrets, time.time()
        ):
            return 401, {"error": "invalid signature"}
        payload = parse_json_object(request.body)
        # The signature covers the body only: the event's id and topic are the body's, never
        # the headers' (a replay under a new id or another topic would pass the signature).
        delivery_id = (payload or {}).get("id")
        topic = (payload or {}).get("topic")
        if payload is None or not delivery_id or not topic:
            return 400, {"error": "missing event id, topic or JSON body"}
        delivery_id, topic = str(delivery_id), str(topic)
        if (
            headers.get("x-crm-event-id", delivery_id) != delivery_id
            or headers.get("x-crm-topic", topic) != topic
        ):
            # Headers the CRM did not send with this body: refused as unauthenticated.
            return 401, {"error": "the headers contradict the signed body"}
        shop_domain = await self.shop_of_crm_account(str(payload.get("account_id", "")))
        return await self._record(
            IncomingEvent(WebhookSource.CRM, delivery_id, topic, shop_domain, payload, request.body)
        )

    async def stripe(self, request: WebhookRequest) -> Answer:
        if self.stripe_verifier is None:
            # No signing secret to check against: nothing can be verified, so nothing is stored.
            return 401, {"error": "Stripe is not configured"}
        try:
            event = await self.stripe_verifier(request.headers, request.body)
        except InvalidSignature:
            return 401, {"error": "invalid signature"}
        except NotAnEvent as refused:
            return 400, {"error": str(refused)}
        except RecursionError:  # a body nested too deep to parse is not an event
            return 400, {"error": "not a JSON event"}
        return await self._record(event)

    async def _record(self, event: IncomingEvent) -> Answer:
        trace_context = current_trace_context()  # None unless tracing is on
        if trace_context is not None:
            event = replace(event, trace_context=trace_context)
        stored = await self.inbox.record(event)
        if stored:
            self.wake_worker()
        metrics.webhook_received_series(event.source, event.topic, "stored" if stored else "duplicate").inc()
        return 200, {"status": "stored" if stored else "duplicate"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.route(scope["path"])
        if handler is None:
            await answer(send, 404, {"error": "not found"})
            return
        if scope.get("method") != "POST":
            await answer(send, 405, {"error": "method not allowed"}, [(b"allow", b"POST")])
            return
        try:
            body = await read_body(receive, self.max_body_bytes)
        except BodyTooLarge:
            await answer(send, 413, {"error": "request body too large"})
            return
        except ClientGone:
            return  # nobody is left to answer, and an incomplete body is not stored
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        result = await handler(WebhookRequest(headers, body))
        if isinstance(result, Res):
            await answer_verbatim(send, result)
        else:
            await answer(send, *result)


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = cast("bytes", message.get("body", b""))
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def answer(
    send: Send, status: int, content: object, extra_headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps(content, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra_headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def answer_verbatim(send: Send, response: Res) -> None:
    """A response Shopify's package built, as it built it (status, body and headers)."""
    body = response.body.encode()
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.headers.items()
    ]
    if not any(name == b"content-type" for name, _ in headers):
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
