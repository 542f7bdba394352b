"""The running sandbox: its store, buckets, faults and webhook dispatcher, in one place.

Handlers get it as a dependency; the GraphQL resolvers reach it through a per-request
context. Everything runs on the event loop, so plain attributes need no locking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from litestar.di import NamedDependency

from sandbox.shopify.bucket import LeakyBucket
from sandbox.shopify.bulk import BulkOperations
from sandbox.shopify.config import LATEST_API_VERSION, ShopifySandboxConfig
from sandbox.shopify.faults import FaultRegistry
from sandbox.shopify.install import install_url
from sandbox.shopify.models import AccessToken, PlanTier, Product, Shop, parse_gid
from sandbox.shopify.payloads import product_delete_payload, product_payload, shop_payload
from sandbox.shopify.schema import build_admin_schema
from sandbox.shopify.seed import build_seed_store
from sandbox.shopify.state import Store, write_atomically
from sandbox.shopify.tokens import OAuthServer
from sandbox.shopify.webhooks import WebhookDispatcher, WebhookEvent, make_event, new_event_id

logger = logging.getLogger("sandbox.shopify")


@dataclass
class RequestContext:
    """What one Admin API request may touch, and what it changed."""

    sandbox: ShopifySandbox
    shop: Shop
    scopes: frozenset[str]
    api_version: str
    # The token the request came with (currentAppInstallation.accessScopes lists its scopes).
    token: AccessToken | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    changed: bool = False

    def has_scope(self, scope: str) -> bool:
        # Shopify: a write scope implies its read scope.
        if scope in self.scopes:
            return True
        return scope.startswith("read_") and "write_" + scope.removeprefix("read_") in self.scopes

    def product_changed(self, topic: str, product: Product) -> None:
        self.changed = True
        self.events.append((topic, product_payload(product, self.sandbox.config.public_base)))

    def product_deleted(self, product_id: int) -> None:
        self.changed = True
        self.events.append(("products/delete", product_delete_payload(product_id)))

    def emit_later(self, topic: str, payload: dict[str, Any]) -> None:
        """Send `topic` once the request is answered (webhooks follow the change)."""
        self.changed = True
        self.events.append((topic, payload))

    def record_mutation(self, name: str, payload: object) -> None:
        """Count an Admin API mutation: applied (no userErrors) or refused (userErrors)."""
        if not isinstance(payload, Mapping):
            return
        counts = self.shop.api_refusals if payload.get("userErrors") else self.shop.api_writes
        counts[name] = counts.get(name, 0) + 1
        self.changed = True


class ShopifySandbox:
    def __init__(self, config: ShopifySandboxConfig) -> None:
        self.config = config
        self.schema = build_admin_schema()
        self.store = self._initial_store()
        self.faults = FaultRegistry()
        self.oauth = OAuthServer(config)
        self.buckets: dict[str, LeakyBucket] = {}
        self.dispatcher = WebhookDispatcher(config, self.faults, self._delivery_exhausted)
        self.bulk = BulkOperations(self)
        self._save_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()

    def _initial_store(self) -> Store:
        path = self.config.state_file
        if path is not None and path.exists():
            return Store.from_json(path.read_bytes())
        return build_seed_store(self.config.seed, self.config.extra_demo_products)

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self.bulk.recover()
        await self.dispatcher.start()
        if self.config.state_file is not None and not self.config.state_file.exists():
            await self.save()

    async def stop(self) -> None:
        await self.bulk.stop()
        await self.dispatcher.stop()
        await self.save()

    async def save(self) -> None:
        """Write the state file, if any. Serialised on the loop, written off it."""
        path = self.config.state_file
        if path is None:
            return
        async with self._save_lock:
            data = self.store.to_json()
            await asyncio.to_thread(write_atomically, path, data)

    async def reset(self) -> None:
        await self.bulk.reset()
        self.store = build_seed_store(self.config.seed, self.config.extra_demo_products)
        self.buckets.clear()
        self.faults.clear()
        self.oauth.reset()
        self.dispatcher.attempts.clear()
        await self.save()

    # -- shops and rate limits ------------------------------------------------------

    def bucket(self, shop: Shop) -> LeakyBucket:
        bucket = self.buckets.get(shop.domain)
        if bucket is None:
            bucket = LeakyBucket(shop.tier.bucket_size, shop.tier.restore_rate, self.config.clock)
            self.buckets[shop.domain] = bucket
        return bucket

    async def set_tier(self, shop: Shop, tier: PlanTier) -> None:
        shop.tier = tier
        self.bucket(shop).resize(tier.bucket_size, tier.restore_rate)
        await self.save()

    def install_url(self, shop: Shop) -> str:
        """A freshly signed `{app_url}/shopify/install?...`, timestamped by the epoch clock."""
        config = self.config
        return install_url(
            config.app_url, shop.domain, config.api_secret, timestamp=int(config.epoch_clock())
        )

    # -- webhooks -------------------------------------------------------------------

    def emit(self, shop: Shop, topic: str, payload: Mapping[str, Any]) -> list[WebhookEvent]:
        """Send one event to every subscription of the shop for `topic`: the shop's own and
        the app's configured (app-specific) one, each its own delivery of the same event."""
        event_id = new_event_id()
        app_specific = (
            [
                make_event(
                    topic=topic,
                    shop=shop.domain,
                    api_version=LATEST_API_VERSION,
                    callback_url=self.config.compliance_webhook_url,
                    payload=payload,
                    event_id=event_id,
                    subscription_id=None,
                )
            ]
            # Installed: by OAuth or a managed install, or holding a token (custom app, tests).
            if topic in self.config.app_webhook_topics and (shop.installed_scopes is not None or shop.tokens)
            else []
        )
        events = app_specific + [
            make_event(
                topic=topic,
                shop=shop.domain,
                api_version=sub.api_version,
                callback_url=sub.uri,
                payload=payload,
                event_id=event_id,
                subscription_id=sub.id,
                include_fields=sub.include_fields,
            )
            for sub in shop.webhook_subscriptions.values()
            if sub.topic == topic
        ]
        for event in events:
            self.dispatcher.enqueue(event)
        return events

    def deliver_to(
        self, shop: Shop, topic: str, payload: Mapping[str, Any], callback_url: str
    ) -> WebhookEvent:
        """Send to a URL outside any subscription: the app's configured compliance URLs."""
        event = make_event(
            topic=topic,
            shop=shop.domain,
            api_version=LATEST_API_VERSION,
            callback_url=callback_url,
            payload=payload,
            event_id=new_event_id(),
            subscription_id=None,
        )
        self.dispatcher.enqueue(event)
        return event

    def install_managed(self, shop: Shop) -> list[str]:
        """Shopify-managed installation: the merchant clicked Install on the app listing.
        The toml's scopes are granted at once; no OAuth redirect, no code, no token: the
        app gets its token by token exchange when the admin first loads it."""
        if shop.installed_scopes is None:
            shop.installed_scopes = list(self.config.app_scopes)
        return shop.installed_scopes

    def uninstall(self, shop: Shop) -> tuple[int, list[WebhookEvent]]:
        """The merchant removes the app: tokens die, `app/uninstalled` goes out, and the
        app's webhook subscriptions are deleted, as on Shopify."""
        revoked = self.oauth.revoke_all(shop)
        shop.installed_scopes = None
        events = self.emit(shop, "app/uninstalled", shop_payload(shop))
        # Uninstalling ends the app's charges (no app_subscriptions/update is sent here).
        for charge in shop.app_subscriptions.values():
            if charge.status in ("ACTIVE", "PENDING", "FROZEN"):
                charge.status = "CANCELLED"
        shop.webhook_subscriptions.clear()
        return revoked, events

    def emit_product_event(self, shop: Shop, topic: str, product: Product) -> None:
        self.emit(shop, topic, product_payload(product, self.config.public_base))

    def _delivery_exhausted(self, event: WebhookEvent) -> None:
        # Shopify removes a subscription whose deliveries keep failing.
        shop = self.store.shop(event.shop)
        if shop is None or event.subscription_id is None:
            return
        if shop.webhook_subscriptions.pop(event.subscription_id, None) is not None:
            logger.warning(
                "removed webhook subscription %s of %s after failed deliveries",
                event.subscription_id,
                shop.domain,
            )
            task = asyncio.get_running_loop().create_task(self.save())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def find_product(self, shop: Shop, ident: str | int) -> Product | None:
        if isinstance(ident, int) or (isinstance(ident, str) and ident.isdigit()):
            return shop.products.get(int(ident))
        numeric = parse_gid(ident, "Product")
        return shop.products.get(numeric) if numeric is not None else None


# How handlers ask for the sandbox: Litestar injects it by the parameter name `sandbox`.
SandboxDep: TypeAlias = NamedDependency[ShopifySandbox]
