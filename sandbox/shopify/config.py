"""Configuration of the Shopify sandbox and the constants it shares with Shopify."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

# Admin API versions the sandbox answers. Shopify keeps a version for about a year;
# anything else is a 404 there too. `unstable` exists on real shops as well.
SUPPORTED_API_VERSIONS: tuple[str, ...] = ("2026-01", "2026-04", "2026-07", "2026-10", "unstable")
LATEST_API_VERSION = "2026-10"

# Shopify retries a failed webhook 8 times in total over about four hours; these are the
# waits before attempts 2..8 (they add up to 4 h).
DEFAULT_WEBHOOK_RETRY_SCHEDULE: tuple[float, ...] = (60, 120, 300, 900, 1800, 3600, 7620)

# Lifetimes Shopify gives expiring offline tokens (`expiring=1`): one hour for the access
# token, 90 days for the refresh token; an authorization code lives ten minutes.
ACCESS_TOKEN_TTL = 3600
REFRESH_TOKEN_TTL = 90 * 24 * 3600
AUTHORIZATION_CODE_TTL = 600
# Shopify's session tokens (ID tokens) live one minute; App Bridge fetches a fresh one
# for every request.
ID_TOKEN_TTL = 60

# The scopes in the app's shopify.app.toml, which a managed installation grants. The
# sandbox reads no product file, so they are configured here (the product's
# iam/scopes.py lists the same).
DEFAULT_APP_SCOPES: tuple[str, ...] = (
    "write_products",
    "write_customers",
    "write_orders",
    "write_fulfillments",
    "write_merchant_managed_fulfillment_orders",
    "read_discounts",
)


@dataclass(frozen=True)
class ShopifySandboxConfig:
    """Everything the sandbox needs; defaults suit `python -m sandbox.launcher`."""

    # The one registered app. The secret also signs webhooks and install links, as on Shopify.
    api_key: str = "dev-shopify-key"
    api_secret: str = "dev-shopify-secret"
    # The app's name on the OAuth consent page.
    app_name: str = "FunnelSync"
    # The app's own base URL: install links point to `{app_url}/shopify/install`, OAuth
    # redirect URIs must lie under it, compliance webhooks go to `{app_url}/webhooks/shopify`.
    app_url: str = "http://127.0.0.1:8000"
    # The sandbox's base URL, used in links, image URLs and the start page.
    public_url: str = "http://127.0.0.1:8001"
    # The toml's `access_scopes.scopes`: what a managed installation (the app listing's
    # Install button in the sandbox admin) grants, and what token exchange hands out.
    app_scopes: tuple[str, ...] = DEFAULT_APP_SCOPES
    # The toml's `application_url`: what the admin loads in its iframe. None: `{app_url}/`.
    application_url: str | None = None
    # The toml's app-specific `[[webhooks.subscriptions]] topics` (uri `/webhooks/shopify`):
    # delivered for every shop the app is installed on, beside (never instead of) the shop's own
    # subscriptions, one delivery per subscription sharing the event's X-Shopify-Event-Id; the
    # `webhookSubscriptions` query does not list them, as Shopify documents.
    app_webhook_topics: tuple[str, ...] = ()
    # Lifetime of the ID tokens the admin mints (seconds).
    id_token_ttl: int = ID_TOKEN_TTL
    # Monotonic clock for the leaky buckets; tests inject a fake one to move time.
    clock: Callable[[], float] = time.monotonic
    # Epoch seconds for OAuth codes, token expiry and install-link timestamps; tests inject
    # a fake one (e.g. sandbox.common.clock.ManualClock) to expire tokens without waiting.
    epoch_clock: Callable[[], float] = time.time
    # Lifetimes of expiring access tokens, refresh tokens and authorization codes (seconds).
    access_token_ttl: int = ACCESS_TOKEN_TTL
    refresh_token_ttl: int = REFRESH_TOKEN_TTL
    authorization_code_ttl: int = AUTHORIZATION_CODE_TTL
    # How a `timeout` fault stalls a request; tests may pass a recorder instead.
    fault_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # Waits (seconds) before each retry of a failed webhook delivery.
    webhook_retry_schedule: Sequence[float] = DEFAULT_WEBHOOK_RETRY_SCHEDULE
    # A delivery slower than this counts as failed, as Shopify's 5 s rule.
    webhook_timeout: float = 5.0
    # When all attempts failed Shopify deletes the subscription; so do we unless told not to.
    remove_subscription_after_failed_deliveries: bool = True
    # If set, shops, tokens, products and subscriptions survive a restart.
    state_file: Path | None = None
    # Tests deliver webhooks in-process through this (e.g. httpx.ASGITransport).
    webhook_transport: httpx.AsyncBaseTransport | None = None
    # Seed for the demo catalogue: same seed, same products, ids and prices.
    seed: int = 20260401
    # Extra generated products for the main demo store, for large-catalogue tests.
    extra_demo_products: int = 0
    # The least time (seconds) a bulk operation takes from creation to completion, so an
    # app sees CREATED/RUNNING and has to poll or wait for `bulk_operations/finish`.
    bulk_operation_duration: float = 0.5
    # Where bulk operation results (JSONL) are written: by default `shopify-bulk/` beside
    # the state file, or a temporary directory (removed at shutdown) without one.
    bulk_dir: Path | None = None

    @property
    def public_base(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def app_base(self) -> str:
        return self.app_url.rstrip("/")

    @property
    def app_home_url(self) -> str:
        return self.application_url or f"{self.app_base}/"

    @property
    def compliance_webhook_url(self) -> str:
        """Where Shopify sends the mandatory compliance topics: the app's configured URL."""
        return f"{self.app_base}/webhooks/shopify"

    def shop_base_url(self, shop_domain: str) -> str:
        """The URL that stands for `https://{shop_domain}` in this sandbox."""
        return f"{self.public_base}/shops/{shop_domain}"
