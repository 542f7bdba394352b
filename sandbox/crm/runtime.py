"""The running CRM sandbox: users come from the shared directory, plus login links, the
users' resources (products, campaigns, offers, payment processors, customers, orders,
fulfillments), webhook subscriptions and their delivery, and screen sessions."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from sandbox.common.clock import iso
from sandbox.common.directory import Directory, Member
from sandbox.common.members import MemberSandbox
from sandbox.common.oauth import hash_token
from sandbox.common.records import new_id
from sandbox.common.webhooks import OutgoingWebhook, WebhookDispatcher, encode_payload, sign_payload
from sandbox.crm.config import CrmSandboxConfig
from sandbox.crm.state import (
    STATE_VERSION,
    Campaign,
    CrmSession,
    CrmState,
    Customer,
    LinkStatus,
    LoginLink,
    Offer,
    Order,
    PaymentProcessor,
    ProcessorStatus,
    Product,
)

# Used and expired links stay listed this long in the control API, then go.
LINK_RETENTION = 24 * 3600
WRITE_ACTIONS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
# Route segments whose write count goes by another name than the segment's.
WRITE_RESOURCE_NAMES = {"payment-processors": "campaign_processors"}


class SignIn(enum.Enum):
    SIGNED_IN = "signed_in"
    ALREADY_USED = "already_used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SignInResult:
    outcome: SignIn
    link: LoginLink | None = None
    user: Member | None = None


@dataclass(frozen=True)
class MintedLink:
    url: str  # holds the token: returned once to the caller, never stored or logged
    link: LoginLink


class CrmSandbox(MemberSandbox[CrmState]):
    STATE_VERSION: ClassVar[int] = STATE_VERSION
    config: CrmSandboxConfig

    def __init__(self, config: CrmSandboxConfig) -> None:
        super().__init__(config)
        self.dispatcher = WebhookDispatcher(
            retry_schedule=config.webhook_retry_schedule,
            timeout=config.webhook_timeout,
            transport=self._webhook_transport,
            clock=config.clock,
            name="crm-sandbox-webhooks",
        )
        # Items written by batch requests ("products.create": n), counted like single writes.
        self.batch_writes: dict[str, int] = {}

    def _webhook_transport(self) -> httpx.AsyncBaseTransport | None:
        return self.config.webhook_transport or self.config.http_transport

    async def start(self) -> None:
        await super().start()
        await self.dispatcher.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()
        await super().stop()

    async def reset(self) -> None:
        self.dispatcher.clear()
        self.batch_writes.clear()
        await super().reset()

    def count_batch_write(self, key: str) -> None:
        self.batch_writes[key] = self.batch_writes.get(key, 0) + 1

    def new_state(self) -> CrmState:
        return CrmState()

    def state_type(self) -> type[CrmState]:
        return CrmState

    def directory(self) -> Directory:
        return self.state.users

    # -- login links ------------------------------------------------------------------------

    def mint_login_link(self, *, client_id: str, user_id: str, redirect_path: str) -> MintedLink:
        now = self.now()
        self._prune_links(now)
        token = secrets.token_urlsafe(32)
        link = LoginLink(
            id="ll_" + secrets.token_hex(8),
            token_hash=hash_token(token),
            client_id=client_id,
            user_id=user_id,
            redirect_path=redirect_path,
            created_at=now,
            expires_at=now + self.config.login_link_ttl,
        )
        self.state.login_links[link.token_hash] = link
        return MintedLink(url=f"{self.config.public_base}/login/{token}", link=link)

    def consume_login_link(self, token: str) -> SignInResult:
        """Use a link once. Check and mark happen with no await between: single use holds."""
        link = self.state.login_links.get(hash_token(token))
        if link is None:
            return SignInResult(SignIn.UNKNOWN)
        now = self.now()
        status = link.status(now)
        if status is LinkStatus.USED:
            return SignInResult(SignIn.ALREADY_USED, link)
        if status is LinkStatus.EXPIRED:
            return SignInResult(SignIn.EXPIRED, link)
        user = self.state.users.get(link.user_id, link.client_id)
        if user is None:  # the user went away (reset) after the link was made
            return SignInResult(SignIn.UNKNOWN)
        link.used_at = now
        return SignInResult(SignIn.SIGNED_IN, link, user)

    def _prune_links(self, now: float) -> None:
        self.state.login_links = {
            h: link for h, link in self.state.login_links.items() if link.expires_at + LINK_RETENTION > now
        }

    # -- the users' resources ---------------------------------------------------------------

    def take_seq(self) -> int:
        seq = self.state.next_seq
        self.state.next_seq += 1
        return seq

    def product(self, owner_id: str, product_id: str) -> Product | None:
        product = self.state.products.get(product_id)
        return product if product is not None and product.owner_id == owner_id else None

    def campaign(self, owner_id: str, campaign_id: str) -> Campaign | None:
        campaign = self.state.campaigns.get(campaign_id)
        return campaign if campaign is not None and campaign.owner_id == owner_id else None

    def offer(self, campaign: Campaign, offer_id: str) -> Offer | None:
        offer = self.state.offers.get(offer_id)
        return offer if offer is not None and offer.campaign_id == campaign.id else None

    def customer(self, owner_id: str, customer_id: str) -> Customer | None:
        customer = self.state.customers.get(customer_id)
        return customer if customer is not None and customer.owner_id == owner_id else None

    def order(self, owner_id: str, order_id: str) -> Order | None:
        order = self.state.orders.get(order_id)
        return order if order is not None and order.owner_id == owner_id else None

    def processor(self, owner_id: str, processor_id: str) -> PaymentProcessor | None:
        processor = self.state.processors.get(processor_id)
        return processor if processor is not None and processor.owner_id == owner_id else None

    def add_processor(
        self, owner_id: str, *, name: str, kind: str, status: ProcessorStatus = ProcessorStatus.ACTIVE
    ) -> PaymentProcessor:
        processor = PaymentProcessor(
            id=new_id("pp"),
            seq=self.take_seq(),
            owner_id=owner_id,
            name=name,
            kind=kind,
            status=status,
            created_at=self.now(),
        )
        self.state.processors[processor.id] = processor
        return processor

    # -- webhooks ---------------------------------------------------------------------------

    def emit(self, owner_id: str, topic: str, data: Mapping[str, Any]) -> str | None:
        """Queue `topic` about one of `owner_id`'s resources for each of the owner's
        subscriptions to it; the event id, or None when nobody listens. `data` is the
        resource as the API returns it. Every change fires, whoever made it: the API (the
        receiving app must recognise its own echoes), the CRM's screens, the control API."""
        subscriptions = sorted(
            (w for w in self.state.webhooks.values() if w.owner_id == owner_id and topic in w.topics),
            key=lambda w: w.seq,
        )
        if not subscriptions:
            return None
        event_id = "evt_" + secrets.token_hex(12)
        body = encode_payload(
            {
                "id": event_id,
                "topic": topic,
                "occurred_at": iso(self.now()),
                "account_id": owner_id,
                "data": dict(data),
            }
        )
        for subscription in subscriptions:
            self.dispatcher.enqueue(
                OutgoingWebhook(
                    event_id=event_id,
                    topic=topic,
                    account_id=owner_id,
                    subscription_id=subscription.id,
                    url=subscription.url,
                    body=body,
                    headers=self._signer(event_id, topic, subscription.client_id),
                )
            )
        return event_id

    def _signer(self, event_id: str, topic: str, client_id: str) -> Callable[[bytes], dict[str, str]]:
        def headers(body: bytes) -> dict[str, str]:
            # The secret of the OAuth client the subscribing token was issued to, looked up
            # at each attempt: the app verifies with the client secret it already has.
            client = self.oauth.query_client(client_id)
            secret = client.client_secret if client is not None else ""
            timestamp = int(self.config.webhook_signing_clock())
            return {
                "Content-Type": "application/json",
                "User-Agent": "CRM-Webhooks/1.0",
                "X-CRM-Event-Id": event_id,
                "X-CRM-Topic": topic,
                "X-CRM-Signature": sign_payload(secret, body, timestamp),
            }

        return headers

    def writes(self) -> dict[str, int]:
        """Successful API writes by resource and action: `{"customers.create": 2, ...}`,
        from the write counters (route templates), so every route is counted alike."""
        counts: dict[str, int] = {}
        for endpoint, stats in self.counters.as_json().items():
            method, _, path = endpoint.partition(" ")
            action = WRITE_ACTIONS.get(method)
            if action is None or not path.startswith("/api/"):
                continue
            literal = [s for s in path.split("/") if s and not s.startswith("{")]
            if literal[-1] == "batch":
                continue  # counted per item in batch_writes
            resource = WRITE_RESOURCE_NAMES.get(literal[-1], literal[-1].replace("-", "_"))
            done = sum(n for status, n in stats["responses"].items() if status.startswith("2"))
            if done:
                key = f"{resource}.{action}"
                counts[key] = counts.get(key, 0) + done
        for key, done in self.batch_writes.items():
            counts[key] = counts.get(key, 0) + done
        return dict(sorted(counts.items()))

    # -- screen sessions --------------------------------------------------------------------

    def open_session(self, link: LoginLink) -> str:
        """A session for the link's user; returns the cookie value (only its hash is kept)."""
        now = self.now()
        self.state.sessions = {h: s for h, s in self.state.sessions.items() if s.expires_at > now}
        cookie = secrets.token_urlsafe(32)
        session = CrmSession(
            token_hash=hash_token(cookie),
            client_id=link.client_id,
            user_id=link.user_id,
            csrf_token=secrets.token_urlsafe(24),
            created_at=now,
            expires_at=now + self.config.session_ttl,
        )
        self.state.sessions[session.token_hash] = session
        return cookie

    def session_for(self, cookie: str | None) -> tuple[CrmSession, Member] | None:
        if not cookie:
            return None
        session = self.state.sessions.get(hash_token(cookie))
        if session is None or session.expires_at <= self.now():
            return None
        user = self.state.users.get(session.user_id, session.client_id)
        return (session, user) if user is not None else None
