"""CRM webhooks: the subscription API and the control API of their delivery.

`POST /api/v1/webhooks` `{"url", "topics": [...]}` (the merchant's user token, no extra
scope) → 201 `{"id": "wh_...", "url", "topics", "created_at"}`; once per user and URL
(409 `conflict` + `existing_id`). `GET /api/v1/webhooks[?url=]`, `GET|DELETE
/api/v1/webhooks/{id}`.

Each event is POSTed as compact JSON `{"id": "evt_...", "topic", "occurred_at",
"account_id": "<user id>", "data": {<the resource as the API returns it>}}` with
`X-CRM-Event-Id`, `X-CRM-Topic` and `X-CRM-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256 of "{t}.{raw body}">`, keyed with the client secret of the OAuth client the
subscribing token was issued to. Delivery: `sandbox.common.webhooks`.

Control: `GET /_sandbox/webhooks`, `GET /_sandbox/webhooks/deliveries`,
`GET|POST|DELETE /_sandbox/webhooks/faults`, `POST /_sandbox/webhooks/release`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from sandbox.common.errors import bad_request, invalid_token, json_object_body, not_found
from sandbox.common.oauth import TokenKind, TokenRecord
from sandbox.common.records import conflict, new_id, page_body
from sandbox.common.webhooks import ANY_ACCOUNT, WebhookFaultKind
from sandbox.crm.runtime import CrmSandbox
from sandbox.crm.sales_validation import read_webhook
from sandbox.crm.state import WebhookSubscription


def webhook_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    return [*_api_handlers(sandbox), *_control_handlers(sandbox)]


def _api_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    def user_token(request: Request[Any, Any, Any]) -> TokenRecord:
        token = sandbox.authenticate(request, kinds=(TokenKind.USER,))
        if token.subject is None or sandbox.directory().get(token.subject, token.client_id) is None:
            raise invalid_token("The token's user no longer exists.", sandbox.config.realm)
        return token

    def owned(owner: str, webhook_id: str) -> WebhookSubscription:
        webhook = sandbox.state.webhooks.get(webhook_id)
        if webhook is None or webhook.owner_id != owner:
            raise not_found(f"No webhook {webhook_id}.")
        return webhook

    @post("/api/v1/webhooks", status_code=201)
    async def subscribe(request: Request[Any, Any, Any]) -> Response[Any]:
        token = user_token(request)
        owner = str(token.subject)
        data = read_webhook(await json_object_body(request, optional=False))
        existing = next(
            (w for w in sandbox.state.webhooks.values() if w.owner_id == owner and w.url == data.url), None
        )
        if existing is not None:
            raise conflict("A webhook for this URL already exists.", existing.id)
        webhook = WebhookSubscription(
            id=new_id("wh"),
            seq=sandbox.take_seq(),
            owner_id=owner,
            client_id=token.client_id,
            url=data.url,
            topics=data.topics,
            created_at=sandbox.now(),
        )
        sandbox.state.webhooks[webhook.id] = webhook
        await sandbox.save()
        return Response(content=webhook.as_json(), status_code=201)

    @get("/api/v1/webhooks")
    async def list_webhooks(request: Request[Any, Any, Any]) -> dict[str, Any]:
        owner = str(user_token(request).subject)
        url = request.query_params.get("url")
        webhooks = [
            w
            for w in sandbox.state.webhooks.values()
            if w.owner_id == owner and (url is None or w.url == url)
        ]
        return page_body(webhooks, request, WebhookSubscription.as_json)

    @get("/api/v1/webhooks/{webhook_id:str}")
    async def get_webhook(request: Request[Any, Any, Any], webhook_id: FromPath[str]) -> dict[str, Any]:
        return owned(str(user_token(request).subject), webhook_id).as_json()

    @delete("/api/v1/webhooks/{webhook_id:str}", status_code=204)
    async def unsubscribe(request: Request[Any, Any, Any], webhook_id: FromPath[str]) -> None:
        webhook = owned(str(user_token(request).subject), webhook_id)
        del sandbox.state.webhooks[webhook.id]
        await sandbox.save()

    return [subscribe, list_webhooks, get_webhook, unsubscribe]


def _control_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    dispatcher = sandbox.dispatcher

    @get("/_sandbox/webhooks")
    async def subscriptions() -> dict[str, Any]:
        listed = sorted(sandbox.state.webhooks.values(), key=lambda w: w.seq)
        return {"data": [{**w.as_json(), "user_id": w.owner_id, "client_id": w.client_id} for w in listed]}

    @get("/_sandbox/webhooks/deliveries")
    async def deliveries(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Every attempt, oldest first; filters `account_id`, `topic`, `event_id`. `pending`:
        deliveries queued or waiting to be retried; `held`: kept by an out-of-order fault."""
        query = request.query_params
        account_id, topic, event_id = query.get("account_id"), query.get("topic"), query.get("event_id")
        attempts = [
            a.as_json()
            for a in dispatcher.attempts
            if (account_id is None or a.account_id == account_id)
            and (topic is None or a.topic == topic)
            and (event_id is None or a.event_id == event_id)
        ]
        return {"attempts": attempts, "pending": dispatcher.pending_count(), "held": dispatcher.held_count()}

    @get("/_sandbox/webhooks/faults")
    async def list_faults() -> dict[str, Any]:
        return {"data": [f.as_json() for f in dispatcher.faults.active()]}

    @post("/_sandbox/webhooks/faults", status_code=201)
    async def add_fault(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Body: {"kind": "duplicate"|"out_of_order"|"receiver_down", "count", "account_id"}.
        `count` (default 1; 2 for out_of_order): events sent twice / events held and then
        sent last-first / attempts failed as unreachable. `account_id`: a user id or "*"."""
        body = await json_object_body(request, optional=False)
        try:
            kind = WebhookFaultKind(str(body.get("kind")))
        except ValueError as exc:
            raise bad_request(f"kind must be one of {[k.value for k in WebhookFaultKind]}") from exc
        count = body.get("count", 2 if kind is WebhookFaultKind.OUT_OF_ORDER else 1)
        account_id = body.get("account_id", ANY_ACCOUNT)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise bad_request("count must be a positive integer")
        if not isinstance(account_id, str) or not account_id:
            raise bad_request('account_id must be a user id or "*"')
        return dispatcher.faults.add(kind, count=count, account_id=account_id).as_json()

    @delete("/_sandbox/webhooks/faults", status_code=200)
    async def clear_faults() -> dict[str, int]:
        return {"cleared": dispatcher.faults.clear()}

    @post("/_sandbox/webhooks/release", status_code=200)
    async def release() -> dict[str, int]:
        """Send the events an unfinished out-of-order fault holds, last-first."""
        return {"released": dispatcher.release_held()}

    return [subscriptions, deliveries, list_faults, add_fault, clear_faults, release]
