"""Webhook intake: verify the signature over the raw body, store once, answer at once."""

from __future__ import annotations

import time

from litestar import Controller, MediaType, Request, Response, post
from litestar.datastructures import State

from connectors.crm_webhooks import verify_crm_webhook
from connectors.shopify_auth import valid_shop_domain, verify_webhook
from iam.provisioning import shop_of_crm_account
from sync.inbox import IncomingEvent, parse_json_object


class WebhookController(Controller):
    path = "/webhooks"
    # Machines call these: no session, no CSRF (the signature authenticates them).
    opt = {"skip_session": True, "exclude_from_csrf": True}

    @post("/shopify", media_type=MediaType.JSON, status_code=200)
    async def shopify(
        self, request: Request[object, object, State], state: State
    ) -> Response[dict[str, str]]:
        body = await request.body()
        if not verify_webhook(
            body, request.headers.get("x-shopify-hmac-sha256"), state.shopify_webhook_secrets
        ):
            return Response({"error": "invalid signature"}, status_code=401)
        delivery_id = request.headers.get("x-shopify-webhook-id", "")
        topic = request.headers.get("x-shopify-topic", "")
        payload = parse_json_object(body)
        if not delivery_id or not topic or payload is None:
            return Response({"error": "missing webhook id, topic or JSON body"}, status_code=400)
        shop_domain = valid_shop_domain(request.headers.get("x-shopify-shop-domain"))
        stored = await state.inbox.record(IncomingEvent("shopify", delivery_id, topic, shop_domain, payload))
        if stored:
            state.worker.wake()
        return Response({"status": "stored" if stored else "duplicate"})

    @post("/crm", media_type=MediaType.JSON, status_code=200)
    async def crm(self, request: Request[object, object, State], state: State) -> Response[dict[str, str]]:
        body = await request.body()
        if not verify_crm_webhook(
            body, request.headers.get("x-crm-signature"), state.crm_webhook_secrets, time.time()
        ):
            return Response({"error": "invalid signature"}, status_code=401)
        payload = parse_json_object(body)
        delivery_id = request.headers.get("x-crm-event-id") or (payload or {}).get("id")
        topic = request.headers.get("x-crm-topic") or (payload or {}).get("topic")
        if not delivery_id or not topic or payload is None:
            return Response({"error": "missing event id, topic or JSON body"}, status_code=400)
        shop_domain = await shop_of_crm_account(str(payload.get("account_id", "")))
        event = IncomingEvent("crm", str(delivery_id), str(topic), shop_domain, payload)
        stored = await state.inbox.record(event)
        if stored:
            state.worker.wake()
        return Response({"status": "stored" if stored else "duplicate"})
