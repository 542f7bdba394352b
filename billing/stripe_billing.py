"""Stripe as the billing provider, for stores outside the App Store (official SDK, async).

Catalog: a Product per plan and a Price per plan price, made the first time they are
needed, each create with an idempotency key, and remembered in ProviderObject. Plan prices
are never edited and neither are Stripe Prices: the current price of a plan carries the
lookup key `funnelsync_{plan code}` (moved with `transfer_lookup_key` when the price
changes) and older prices are deactivated, so nobody new gets them while their subscribers
keep paying them. A Customer per shop.

Subscribing: a Checkout Session (mode=subscription) on Stripe's hosted page. Changing plan
while subscribed: the subscription's item moves to the new plan's current price.
Cancelling and the payment method: the Billing Portal. Stripe's webhooks (verified with the
SDK, stored once in the inbox) tell the worker what happened; subscription events are
applied by Stripe's event time (latest wins), payment events start or end the grace period.
Another shop's objects are refused: the shop is the owner of the Stripe customer we made,
and an object naming another shop is ignored.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, ParamSpec, TypeVar

import stripe
import structlog
from stripe.params import CustomerCreateParams, PriceCreateParams, ProductCreateParams
from stripe.params.checkout import SessionCreateParams as CheckoutSessionCreateParams

from billing.returns import ReturnTo
from billing.services import (
    BillingRefused,
    NewSubscription,
    Outcome,
    ProviderState,
    apply_payment,
    apply_state,
    subscribable_plans,
)
from billing.tables import (
    Plan,
    PlanPrice,
    ProviderName,
    ProviderObject,
    ProviderObjectKind,
    Subscription,
    SubscriptionStatus,
)
from connectors.errors import ExternalServiceError, RateLimited, Rejected
from iam.tables import Shop
from jobqueue.inbox import InboxEventData, IncomingEvent, TopicHandler, parse_json_object
from jobqueue.intake import InvalidSignature, NotAnEvent
from jobqueue.tables import WebhookSource

log = structlog.get_logger("funnelsync.billing.stripe")

# Stripe's statuses as we store them (one spelling of cancelled across providers; 16 chars).
STATUSES = {"canceled": SubscriptionStatus.CANCELLED, "incomplete_expired": SubscriptionStatus.EXPIRED}
CHECKOUT_SESSION_ID = re.compile(r"\Acs_[A-Za-z0-9_]{1,250}\Z")
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class StripeConfig:
    api_key: str
    webhook_secret: str
    api_version: str
    # Empty: Stripe's own API; development and tests point it at the Stripe sandbox.
    api_base: str = ""
    app_base_url: str = "http://127.0.0.1:8000"
    timeout_seconds: float = 10.0


def _when(epoch: Any) -> datetime | None:
    return datetime.fromtimestamp(int(epoch), UTC) if isinstance(epoch, int | float) and epoch else None


def _id_of(value: Any) -> str | None:
    """An expandable field: an id, or the object itself."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _object(event: InboxEventData) -> dict[str, Any]:
    data = event.payload.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    return dict(obj) if isinstance(obj, Mapping) else {}


def _claimed_shop(obj: Mapping[str, Any]) -> str | None:
    """The shop an object says it is for (metadata we set, or the session's reference)."""
    metadata = obj.get("metadata") or {}
    parent = obj.get("parent") or {}
    details = parent.get("subscription_details") or {} if isinstance(parent, Mapping) else {}
    claimed = (
        metadata.get("shop_domain")
        or (details.get("metadata") or {}).get("shop_domain")
        or obj.get("client_reference_id")
    )
    return str(claimed) if claimed else None


def _invoice_subscription(invoice: Mapping[str, Any]) -> str | None:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {} if isinstance(parent, Mapping) else {}
    return _id_of(details.get("subscription")) or _id_of(invoice.get("subscription"))


class StripeBilling:
    """The `stripe` provider (see billing.provider.BillingProvider)."""

    name = ProviderName.STRIPE
    label = "Stripe"

    def __init__(self, config: StripeConfig, *, grace: timedelta) -> None:
        self.config = config
        self.grace = grace
        self.app_base_url = config.app_base_url.rstrip("/")
        self.http_client = stripe.HTTPXClient(timeout=config.timeout_seconds)
        self.client = stripe.StripeClient(
            config.api_key,
            stripe_version=config.api_version,
            base_addresses={"api": config.api_base.rstrip("/")} if config.api_base else None,
            http_client=self.http_client,
            max_network_retries=2,
        )
        # Idempotency keys name this installation, so two apps on one Stripe account never
        # replay each other's creates.
        self.key_prefix = "funnelsync-" + hashlib.sha256(self.app_base_url.encode()).hexdigest()[:10]

    async def aclose(self) -> None:
        await self.http_client.close_async()  # type: ignore[no-untyped-call]

    # -- calling Stripe ----------------------------------------------------------------------

    async def _call(self, call: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """One API call; Stripe's errors become the connectors' errors (no key in messages)."""
        try:
            return await call(*args, **kwargs)
        except stripe.RateLimitError:
            raise RateLimited(ProviderName.STRIPE, 1.0) from None
        except (stripe.InvalidRequestError, stripe.CardError) as exc:
            raise Rejected(
                ProviderName.STRIPE,
                str(exc.user_message),
                status_code=exc.http_status,
                code=str(exc.code or ""),
            ) from None
        except stripe.StripeError as exc:
            raise ExternalServiceError(
                ProviderName.STRIPE, type(exc).__name__, status_code=exc.http_status
            ) from None

    def _key(self, kind: str, local_id: object, params: Mapping[str, Any]) -> str:
        """The same create (same object, same parameters) gets the same idempotency key."""
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return f"{self.key_prefix}:{kind}:{local_id}:{digest}"

    def _once(self, kind: str) -> str:
        """An idempotency key for one attempt (retries of that request reuse it)."""
        return f"{self.key_prefix}:{kind}:{uuid.uuid4().hex}"

    async def _retrieve_subscription(self, subscription_id: str) -> dict[str, Any]:
        subscription = await self._call(self.client.v1.subscriptions.retrieve_async, subscription_id)
        return subscription.to_dict()

    # -- what we made at Stripe ------------------------------------------------------------

    @staticmethod
    async def _external_id(kind: str, local_id: object) -> str | None:
        row = (
            await ProviderObject.select(ProviderObject.external_id)
            .where(ProviderObject.key == f"{ProviderName.STRIPE}:{kind}:{local_id}")
            .first()
        )
        return str(row["external_id"]) if row else None

    @staticmethod
    async def _local_id(kind: str, external_id: str) -> str | None:
        row = (
            await ProviderObject.select(ProviderObject.local_id)
            .where(
                (ProviderObject.external_id == external_id)
                & (ProviderObject.provider == ProviderName.STRIPE)
                & (ProviderObject.kind == kind)
            )
            .first()
        )
        return str(row["local_id"]) if row else None

    async def _remember(self, kind: str, local_id: object, external_id: str) -> str:
        """Stores the mapping; when two requests made it at once, both use the first stored."""
        await ProviderObject.insert(
            ProviderObject(
                key=f"{ProviderName.STRIPE}:{kind}:{local_id}",
                provider=ProviderName.STRIPE,
                kind=kind,
                local_id=str(local_id),
                external_id=external_id,
            )
        ).on_conflict(action="DO NOTHING")
        return await self._external_id(kind, local_id) or external_id

    async def shop_of_customer(self, customer_id: str) -> str | None:
        return await self._local_id(ProviderObjectKind.CUSTOMER, customer_id)

    async def _product(self, plan: Mapping[str, Any]) -> str:
        known = await self._external_id(ProviderObjectKind.PRODUCT, plan["id"])
        if known:
            return known
        params: ProductCreateParams = {
            "name": plan["name"],
            "metadata": {"plan_id": str(plan["id"]), "plan_code": plan["code"]},
        }
        if plan["description"]:
            params["description"] = plan["description"]
        product = await self._call(
            self.client.v1.products.create_async,
            params=params,
            options={"idempotency_key": self._key(ProviderObjectKind.PRODUCT, plan["id"], params)},
        )
        return await self._remember(ProviderObjectKind.PRODUCT, plan["id"], product.id)

    async def _price(self, plan: Mapping[str, Any], price: Mapping[str, Any]) -> str:
        """The Stripe Price of one plan price, made the first time it is needed."""
        known = await self._external_id(ProviderObjectKind.PRICE, price["id"])
        if known:
            return known
        product = await self._product(plan)
        params: PriceCreateParams = {
            "product": product,
            "unit_amount": price["amount_cents"],
            "currency": str(price["currency"]).lower(),
            "recurring": {"interval": price["interval"]},
            "nickname": f"{plan['name']} {price['amount_cents'] / 100:.2f} {price['currency']}"
            f" per {price['interval']}",
            "metadata": {"plan_price_id": str(price["id"]), "plan_code": plan["code"]},
        }
        if price["current"]:
            params["lookup_key"] = f"funnelsync_{plan['code']}"
            params["transfer_lookup_key"] = True
        created = await self._call(
            self.client.v1.prices.create_async,
            params=params,
            options={"idempotency_key": self._key(ProviderObjectKind.PRICE, price["id"], params)},
        )
        external_id = await self._remember(ProviderObjectKind.PRICE, price["id"], created.id)
        if price["current"]:
            await self._retire_older_prices(plan["id"], price["id"])
        return external_id

    async def _retire_older_prices(self, plan_id: int, current_price_id: int) -> None:
        """Older prices stay with their subscribers but are offered to nobody new."""
        older = await PlanPrice.select(PlanPrice.id).where(
            (PlanPrice.plan == plan_id) & (PlanPrice.id != current_price_id)
        )
        for row in older:
            external_id = await self._external_id(ProviderObjectKind.PRICE, row["id"])
            if external_id:
                await self._call(self.client.v1.prices.update_async, external_id, params={"active": False})

    async def _customer(self, shop_domain: str) -> str:
        known = await self._external_id(ProviderObjectKind.CUSTOMER, shop_domain)
        if known:
            return known
        shop = await Shop.select(Shop.name, Shop.email).where(Shop.domain == shop_domain).first() or {}
        params: CustomerCreateParams = {
            "name": shop.get("name") or shop_domain,
            "metadata": {"shop_domain": shop_domain},
        }
        if shop.get("email"):
            params["email"] = shop["email"]
        customer = await self._call(
            self.client.v1.customers.create_async,
            params=params,
            options={"idempotency_key": self._key(ProviderObjectKind.CUSTOMER, shop_domain, params)},
        )
        return await self._remember(ProviderObjectKind.CUSTOMER, shop_domain, customer.id)

    async def sync_catalog(self) -> None:
        """Every plan on offer has its Product (with the plan's name) and current Price at Stripe,
        and only those are active (the Billing Portal offers active ones): archived plans and
        older prices are not."""
        for plan in await subscribable_plans():
            await self._price(plan, plan["price"])
        plans = {row["id"]: row for row in await Plan.select(Plan.id, Plan.name, Plan.archived)}
        prices = {
            row["id"]: row for row in await PlanPrice.select(PlanPrice.id, PlanPrice.plan, PlanPrice.current)
        }
        wanted: dict[str, bool] = {}
        names: dict[str, str] = {}
        for ref in await ProviderObject.select().where(
            (ProviderObject.provider == ProviderName.STRIPE)
            & ProviderObject.kind.is_in([ProviderObjectKind.PRODUCT, ProviderObjectKind.PRICE])
        ):
            if ref["kind"] == ProviderObjectKind.PRODUCT:
                plan_row = plans.get(int(ref["local_id"]))
                wanted[ref["external_id"]] = bool(plan_row and not plan_row["archived"])
                if plan_row:
                    names[ref["external_id"]] = plan_row["name"]
            else:
                price_row = prices.get(int(ref["local_id"]))
                plan_row = plans.get(price_row["plan"]) if price_row else None
                wanted[ref["external_id"]] = bool(
                    price_row and price_row["current"] and plan_row and not plan_row["archived"]
                )
        products = await self._call(self.client.v1.products.list_async, params={"limit": 100})
        async for product in products.auto_paging_iter():
            if product.id not in wanted:
                continue
            name = names.get(product.id, product.name)
            if product.active != wanted[product.id] or product.name != name:
                await self._call(
                    self.client.v1.products.update_async,
                    product.id,
                    params={"active": wanted[product.id], "name": name},
                )
        listed = await self._call(self.client.v1.prices.list_async, params={"limit": 100})
        async for price_object in listed.auto_paging_iter():
            if price_object.id in wanted and price_object.active != wanted[price_object.id]:
                await self._call(
                    self.client.v1.prices.update_async,
                    price_object.id,
                    params={"active": wanted[price_object.id]},
                )

    # -- the provider interface --------------------------------------------------------------

    async def start(
        self, shop_domain: str, plan: dict[str, Any], current: dict[str, Any] | None, back: ReturnTo
    ) -> str:
        """Where the merchant goes next: Stripe's hosted checkout for a first subscription; a
        plan change of a live Stripe subscription is made at once (on to `back.then`, or the
        billing page)."""
        if current is not None and current["provider"] == ProviderName.STRIPE:
            return await self._switch(shop_domain, plan, current, back)
        price = plan["price"]
        price_id = await self._price(plan, price)
        customer = await self._customer(shop_domain)
        metadata = {"shop_domain": shop_domain, "plan_price_id": str(price["id"])}
        params: CheckoutSessionCreateParams = {
            "mode": "subscription",
            # Named, not left to the default: `url` below exists only for the hosted page
            # (`hosted_page` since API version 2026-10-28.endive, `hosted` before it).
            "ui_mode": "hosted_page",
            "customer": customer,
            "line_items": [{"price": price_id, "quantity": 1}],
            # Stripe fills in the placeholder itself: it must reach Stripe unencoded.
            "success_url": back.url("/billing/checkout/return", raw="session_id={CHECKOUT_SESSION_ID}"),
            "cancel_url": back.url("/billing/", outcome="checkout_left"),
            "client_reference_id": shop_domain,
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
        }
        if plan["trial_days"]:
            params["subscription_data"]["trial_period_days"] = plan["trial_days"]
        session = await self._call(
            self.client.v1.checkout.sessions.create_async,
            params=params,
            options={"idempotency_key": self._once("checkout")},
        )
        if not session.url:
            raise ExternalServiceError(ProviderName.STRIPE, "the checkout session has no URL")
        return session.url

    async def _switch(
        self, shop_domain: str, plan: dict[str, Any], current: dict[str, Any], back: ReturnTo
    ) -> str:
        if current["plan"] == plan["id"]:
            raise BillingRefused(f"You are already on the {plan['name']} plan.")
        price_id = await self._price(plan, plan["price"])
        subscription = await self._retrieve_subscription(current["external_id"])
        items = (subscription.get("items") or {}).get("data") or []
        if not items:
            raise BillingRefused("Stripe has no plan on this subscription. Use Manage billing.")
        updated = await self._call(
            self.client.v1.subscriptions.update_async,
            current["external_id"],
            params={
                "items": [{"id": items[0]["id"], "price": price_id}],
                "proration_behavior": "create_prorations",
                "metadata": {"shop_domain": shop_domain, "plan_price_id": str(plan["price"]["id"])},
            },
            options={"idempotency_key": self._once("switch")},
        )
        await self._apply(shop_domain, updated.to_dict(), None)
        return back.after("changed")

    async def complete(self, shop_domain: str, query: Mapping[str, str]) -> str | None:
        """Back from Checkout: asks Stripe about the session, which must be this shop's."""
        session_id = query.get("session_id", "")
        if not CHECKOUT_SESSION_ID.match(session_id):
            return None
        try:
            found = await self._call(self.client.v1.checkout.sessions.retrieve_async, session_id)
        except Rejected:
            return None
        session = found.to_dict()
        customer = await self._external_id(ProviderObjectKind.CUSTOMER, shop_domain)
        if (
            customer is None
            or _id_of(session.get("customer")) != customer
            or _claimed_shop(session) != shop_domain
        ):
            log.warning("checkout_session_of_another_shop", shop=shop_domain, session=session_id)
            return None
        subscription_id = _id_of(session.get("subscription"))
        if session.get("status") != "complete" or subscription_id is None:
            return SubscriptionStatus.PENDING if session.get("status") == "open" else None
        subscription = await self._retrieve_subscription(subscription_id)
        if await self._apply(shop_domain, subscription, None) is not Outcome.APPLIED:
            return None
        status = str(subscription["status"])
        return STATUSES.get(status, status)

    async def cancel(self, shop_domain: str, subscription: dict[str, Any]) -> str | None:
        """Cancelling happens in Stripe's Billing Portal (at the end of the paid period)."""
        url = await self._portal(shop_domain)
        if url is None:
            raise BillingRefused("There is no Stripe account for your shop yet.")
        return url

    async def manage_url(self, shop_domain: str, subscription: dict[str, Any] | None) -> str | None:
        return await self._portal(shop_domain)

    async def _portal(self, shop_domain: str) -> str | None:
        customer = await self._external_id(ProviderObjectKind.CUSTOMER, shop_domain)
        if customer is None:
            return None
        await self.sync_catalog()
        session = await self._call(
            self.client.v1.billing_portal.sessions.create_async,
            params={"customer": customer, "return_url": f"{self.app_base_url}/billing/"},
            options={"idempotency_key": self._once("portal")},
        )
        return session.url

    # -- webhooks -----------------------------------------------------------------------------

    async def incoming_event(self, headers: Mapping[str, str], body: bytes) -> IncomingEvent:
        """The verifier of POST /webhooks/stripe (jobqueue.intake.EventVerifier): the SDK's check
        of `Stripe-Signature` over the raw body (5-minute tolerance), then the event as the inbox
        stores it, once per event id. The body is kept as it arrived, `created` included: the
        worker applies subscription events in Stripe's time order by it."""
        try:
            stripe.Webhook.construct_event(body, headers.get("stripe-signature"), self.config.webhook_secret)
        except stripe.SignatureVerificationError:
            raise InvalidSignature from None
        except (ValueError, TypeError, AttributeError):  # signed, but not a JSON event
            raise NotAnEvent("not a Stripe event") from None
        payload = parse_json_object(body)
        event_id, event_type = (payload or {}).get("id"), (payload or {}).get("type")
        if (
            payload is None
            or payload.get("object") != "event"
            or not isinstance(event_id, str)
            or not event_id
            or not event_type
        ):
            raise NotAnEvent("not a Stripe event")
        shop_domain = await self.shop_of_event(payload)
        return IncomingEvent(WebhookSource.STRIPE, event_id, str(event_type), shop_domain, payload, body)

    async def shop_of_event(self, payload: Mapping[str, Any]) -> str | None:
        data = payload.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        customer = _id_of(obj.get("customer")) if isinstance(obj, Mapping) else None
        return await self.shop_of_customer(customer) if customer else None

    async def _shop(self, obj: Mapping[str, Any]) -> str | None:
        """The shop an object belongs to: the owner of its customer. An object that names
        another shop, or a customer we did not make, is not ours to apply."""
        customer = _id_of(obj.get("customer"))
        shop = await self.shop_of_customer(customer) if customer else None
        if shop is None:
            log.info("stripe_object_not_ours", object=obj.get("id"))
            return None
        claimed = _claimed_shop(obj)
        if claimed is not None and claimed != shop:
            log.warning("stripe_object_names_another_shop", shop=shop, claimed=claimed, object=obj.get("id"))
            return None
        return shop

    async def _state_of(
        self, subscription: Mapping[str, Any], changed_at: datetime | None
    ) -> tuple[ProviderState, NewSubscription | None]:
        items = (subscription.get("items") or {}).get("data") or []
        first = items[0] if items else {}
        price_id = _id_of(first.get("price"))
        local = await self._local_id(ProviderObjectKind.PRICE, price_id) if price_id else None
        plan_price_id = int(local) if local else None
        status = str(subscription.get("status", ""))
        state = ProviderState(
            status=STATUSES.get(status, status),
            changed_at=changed_at,
            # Current API versions keep periods on the items; older ones on the subscription.
            period_end=_when(first.get("current_period_end") or subscription.get("current_period_end")),
            trial_end=_when(subscription.get("trial_end")),
            cancel_at_period_end=bool(
                subscription.get("cancel_at_period_end") or subscription.get("cancel_at")
            ),
            plan_price_id=plan_price_id,
        )
        return state, NewSubscription(ProviderName.STRIPE, plan_price_id) if plan_price_id else None

    async def _apply(
        self,
        shop_domain: str,
        subscription: Mapping[str, Any],
        changed_at: datetime | None,
        on_tie: Literal["apply", "report"] = "apply",
    ) -> Outcome:
        state, new = await self._state_of(subscription, changed_at)
        outcome = await apply_state(
            shop_domain, str(subscription["id"]), state, grace=self.grace, new=new, on_tie=on_tie
        )
        if outcome is Outcome.TIE:
            # Two different states in the same second: Stripe's current one settles it.
            fresh = await self._retrieve_subscription(str(subscription["id"]))
            state, new = await self._state_of(fresh, None)
            outcome = await apply_state(
                shop_domain, str(subscription["id"]), state, grace=self.grace, new=new
            )
        if outcome is Outcome.MISSING:
            log.warning("stripe_subscription_of_unknown_price", subscription=subscription.get("id"))
        return outcome

    async def on_subscription_event(self, event: InboxEventData) -> None:
        """customer.subscription.created / updated / deleted / trial_will_end."""
        subscription = _object(event)
        shop = await self._shop(subscription)
        if shop is None or not subscription.get("id"):
            return
        await self._apply(shop, subscription, _when(event.payload.get("created")), on_tie="report")

    async def on_checkout_completed(self, event: InboxEventData) -> None:
        session = _object(event)
        shop = await self._shop(session)
        subscription_id = _id_of(session.get("subscription"))
        if shop is None or subscription_id is None:
            return
        changed_at = _when(event.payload.get("created"))
        held = (
            await Subscription.select(Subscription.provider_updated_at)
            .where(Subscription.external_id == subscription_id)
            .first()
        )
        if held and held["provider_updated_at"] and changed_at and held["provider_updated_at"] >= changed_at:
            return  # a newer subscription event was applied already
        subscription = await self._retrieve_subscription(subscription_id)
        await self._apply(shop, subscription, changed_at)

    async def _on_invoice(self, event: InboxEventData, *, paid: bool) -> None:
        invoice = _object(event)
        shop = await self._shop(invoice)
        subscription_id = _invoice_subscription(invoice)
        at = _when(event.payload.get("created"))
        if shop is None or subscription_id is None or at is None:
            return
        outcome = await apply_payment(shop, subscription_id, paid=paid, at=at, grace=self.grace)
        if outcome is Outcome.MISSING:
            # The invoice's news came before the subscription's: learn the subscription first.
            subscription = await self._retrieve_subscription(subscription_id)
            if await self._apply(shop, subscription, None) is Outcome.APPLIED:
                await apply_payment(shop, subscription_id, paid=paid, at=at, grace=self.grace)

    async def on_invoice_paid(self, event: InboxEventData) -> None:
        await self._on_invoice(event, paid=True)

    async def on_invoice_payment_failed(self, event: InboxEventData) -> None:
        await self._on_invoice(event, paid=False)

    def topic_handlers(self) -> dict[str, TopicHandler]:
        return {
            "stripe:checkout.session.completed": self.on_checkout_completed,
            "stripe:customer.subscription.created": self.on_subscription_event,
            "stripe:customer.subscription.updated": self.on_subscription_event,
            "stripe:customer.subscription.deleted": self.on_subscription_event,
            "stripe:customer.subscription.trial_will_end": self.on_subscription_event,
            "stripe:invoice.paid": self.on_invoice_paid,
            "stripe:invoice.payment_failed": self.on_invoice_payment_failed,
        }
