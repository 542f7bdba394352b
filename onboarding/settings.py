"""Typed settings, read from the environment and an optional `.env` file.

Every external system is reached through a base URL and credentials from here, so
pointing the app at real Shopify is configuration, not code.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from iam.vault import KeyRing

DEFAULT_DATABASE_URL = "sqlite:///var/funnelsync.sqlite3"
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"  # noqa: S105
DEVELOPMENT_SHOPIFY_SECRET = "dev-shopify-secret"  # noqa: S105
DEVELOPMENT_CRM_SECRET = "dev-crm-secret"  # noqa: S105
DEVELOPMENT_TEMPLATES_SECRET = "dev-templates-secret"  # noqa: S105
# The Stripe API version the app speaks (the SDK's requests and the webhook endpoint's events).
STRIPE_API_VERSION = "2026-10-28.endive"
# A fixed, public key so development data survives restarts; production refuses it.
DEVELOPMENT_VAULT_KEYS = "dev:ZGV2ZWxvcG1lbnQtb25seS12YXVsdC1rZXktMzJieXQ"
SUPPORTED_DATABASE_SCHEMES = ("sqlite:///", "postgres://", "postgresql://")


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    app_env: Environment = Field(Environment.development, description="development, test or production")
    app_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public base URL of the app; Shopify redirects and webhooks point here",
    )
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="sqlite:///path (embedded) or postgresql://user@host:port/db",
    )
    database_pool_min: int = Field(1, ge=1, description="PostgreSQL connection pool minimum")
    database_pool_max: int = Field(10, ge=1, description="PostgreSQL connection pool maximum")
    secret_key: str = Field(
        DEVELOPMENT_SECRET,
        min_length=32,
        description="Signs CSRF tokens; required (32+ characters) outside development",
    )
    vault_keys: str = Field(
        DEVELOPMENT_VAULT_KEYS,
        description="Token vault key ring, newest first: id:base64url-32-byte-key,older-id:key",
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(True, description="JSON log lines (false: human-readable console)")
    session_max_age_seconds: int = Field(60 * 60 * 24 * 7, ge=60, description="Merchant session lifetime")

    shopify_api_key: str = Field("dev-shopify-key", description="Shopify app client id")
    shopify_api_secret: str = Field(
        DEVELOPMENT_SHOPIFY_SECRET,
        description="Shopify app client secret; signs install links and webhooks",
    )
    shopify_api_version: str = Field("2026-10", description="Admin API version")
    shopify_shop_base_url: str = Field(
        "https://{shop}",
        description="Where a shop's admin lives; the sandbox uses http://127.0.0.1:PORT/shops/{shop}",
    )
    shopify_api_secret_previous: str = Field(
        "", description="The previous client secret, accepted on webhooks while a rotation settles"
    )
    shopify_app_bridge_url: str = Field(
        "https://cdn.shopify.com/shopifycloud/app-bridge.js",
        description="App Bridge's script; development and tests point it at the Shopify sandbox's stand-in",
    )
    shopify_admin_origin: str = Field(
        "https://admin.shopify.com",
        description="The Shopify admin origin framing the embedded app (the sandbox admin in development)",
    )
    shopify_app_handle: str = Field(
        "funnelsync",
        description="The app's handle in admin URLs (shopify.app.toml `handle`); billing returns to it",
    )
    crm_base_url: str = Field("http://127.0.0.1:8102", description="The CRM's API and OAuth server")
    crm_client_id: str = Field("dev-crm-client", description="The app's OAuth client id at the CRM")
    crm_client_secret: str = Field(
        DEVELOPMENT_CRM_SECRET,
        description="The app's OAuth client secret at the CRM; required outside development",
    )
    templates_base_url: str = Field(
        "http://127.0.0.1:8103", description="The template (page builder) service's API and OAuth server"
    )
    templates_client_id: str = Field("dev-templates-client", description="The app's OAuth client id there")
    templates_client_secret: str = Field(
        DEVELOPMENT_TEMPLATES_SECRET,
        description="The app's OAuth client secret there; required outside development",
    )
    app_signing_key_file: Path = Field(
        Path("var/app-signing-key.pem"),
        description="PEM EC P-256 private key signing JWT bearer assertions; created in development",
    )
    catalog_refresh_hours: float = Field(
        4.0, gt=0, le=24 * 7, description="How often the store's catalog is refreshed in the CRM"
    )
    analytics_beacon_key: str = Field(
        "",
        description="Signs the live pages' analytics beacon tokens; empty: derived from SECRET_KEY",
    )
    analytics_reload_window_seconds: int = Field(
        1800, ge=1, le=86400, description="A page or offer view repeated by a visitor within it counts once"
    )
    external_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="Timeout of each call to Shopify, the CRM and the template service"
    )
    run_worker: bool = Field(True, description="Run the job worker inside the app process")
    metrics_token: str = Field(
        "",
        description="Bearer token Prometheus sends to scrape /metrics; empty: /metrics answers 404",
    )
    request_head_max_bytes: int = Field(
        32 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="Largest request line and headers the server reads (431 beyond)",
    )
    request_head_timeout_seconds: float = Field(
        20.0,
        gt=0,
        le=300,
        description="Seconds a client has to send a request's line and headers (408, closed, beyond)",
    )
    worker_concurrency: int = Field(
        4,
        ge=1,
        le=32,
        description="Jobs one worker process runs at once (a long import never blocks the rest)",
    )
    shopify_sandbox_url: str = Field(
        "", description="Development only: the Shopify sandbox's start page, linked from home"
    )

    # Billing: who charges new subscriptions, and Stripe's credentials when it does.
    billing_provider: Literal["shopify", "stripe"] = Field(
        "shopify", description="Who charges new subscriptions: shopify (Billing API) or stripe"
    )
    billing_grace_days: int = Field(
        7, ge=0, le=60, description="Days a shop keeps its plan's limits after a failed payment"
    )
    stripe_api_key: str = Field(
        "", description="Stripe secret key (sk_...); required for BILLING_PROVIDER=stripe"
    )
    stripe_webhook_secret: str = Field(
        "", description="Signing secret (whsec_...) of the /webhooks/stripe endpoint; required with Stripe"
    )
    stripe_api_base: str = Field(
        "", description="Stripe API base URL; empty for Stripe itself, the sandbox's URL in development"
    )
    stripe_api_version: str = Field(STRIPE_API_VERSION, description="Stripe API version, pinned")
    # Alerts by email (alerts/digests.py).
    smtp_url: str = Field(
        "", description="smtp://[user:password@]host[:port] (STARTTLS) or smtps://...; empty: no alerts"
    )
    alert_from: str = Field("FunnelSync <alerts@funnelsync.localhost>", description="Sender of alert emails")
    alert_digest_minutes: int = Field(
        60, ge=5, le=7 * 24 * 60, description="Length of a digest period: at most one alert email per period"
    )
    alert_sync_failures: int = Field(
        3, ge=1, description="Unreported sync failures of a shop that make its sync 'keep failing'"
    )
    alert_dead_letters: int = Field(10, ge=1, description="Unreported dead letters that alert the operators")

    @field_validator("database_url")
    @classmethod
    def _database_url_is_supported(cls, value: str) -> str:
        if not value.startswith(SUPPORTED_DATABASE_SCHEMES):
            raise ValueError("must start with sqlite:/// or postgresql://")
        if value.startswith("sqlite:///") and not value.removeprefix("sqlite:///"):
            raise ValueError("sqlite:/// needs a file path, e.g. sqlite:///var/app.sqlite3")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_is_smtp(cls, value: str) -> str:
        if value and not value.startswith(("smtp://", "smtps://")):
            raise ValueError("must start with smtp:// or smtps://")
        return value

    @field_validator("shopify_shop_base_url")
    @classmethod
    def _shop_base_url_has_placeholder(cls, value: str) -> str:
        if "{shop}" not in value:
            raise ValueError("must contain the {shop} placeholder")
        return value.rstrip("/")

    @field_validator("vault_keys")
    @classmethod
    def _vault_keys_parse(cls, value: str) -> str:
        KeyRing.parse(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level_is_known(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @model_validator(mode="after")
    def _production_has_real_secrets(self) -> Self:
        if self.app_env is Environment.production:
            development_values = {
                "SECRET_KEY": (self.secret_key, DEVELOPMENT_SECRET),
                "VAULT_KEYS": (self.vault_keys, DEVELOPMENT_VAULT_KEYS),
                "SHOPIFY_API_SECRET": (self.shopify_api_secret, DEVELOPMENT_SHOPIFY_SECRET),
                "CRM_CLIENT_SECRET": (self.crm_client_secret, DEVELOPMENT_CRM_SECRET),
                "TEMPLATES_CLIENT_SECRET": (self.templates_client_secret, DEVELOPMENT_TEMPLATES_SECRET),
            }
            for name, (value, development_value) in development_values.items():
                if value == development_value:
                    raise ValueError(f"{name} must be set outside development")
        return self

    @model_validator(mode="after")
    def _stripe_is_configured(self) -> Self:
        if self.billing_provider == "stripe":
            if not self.stripe_api_key:
                raise ValueError("STRIPE_API_KEY must be set when BILLING_PROVIDER=stripe")
            if not self.stripe_webhook_secret:
                raise ValueError("STRIPE_WEBHOOK_SECRET must be set when BILLING_PROVIDER=stripe")
        if self.stripe_api_base and not self.stripe_api_base.startswith(("http://", "https://")):
            raise ValueError("STRIPE_API_BASE must be an http(s) URL")
        return self

    @property
    def is_development(self) -> bool:
        return self.app_env is Environment.development

    @property
    def is_production(self) -> bool:
        return self.app_env is Environment.production

    @property
    def secure_cookies(self) -> bool:
        return self.app_base_url.startswith("https://")

    def shop_base_url(self, shop: str) -> str:
        return self.shopify_shop_base_url.format(shop=shop)

    @property
    def shopify_webhook_secrets(self) -> tuple[str, ...]:
        return tuple(filter(None, (self.shopify_api_secret, self.shopify_api_secret_previous)))


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it in one line."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_settings_error(exc)) from None


def describe_settings_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        names = [str(part).upper() for part in error["loc"]]
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{'.'.join(names)}: {message}" if names else message)
    return "invalid settings: " + "; ".join(problems)
