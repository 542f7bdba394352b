"""Tables of the identity and access domain: shops, their tokens, sessions, accounts."""

from enum import StrEnum

from piccolo.columns import (
    JSON,
    Bytea,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class PlanTier(StrEnum):
    """Shopify's plans as the rate-limit tiers of seeds/002 (iam.install.plan_tier_of)."""

    STANDARD = "standard"
    ADVANCED = "advanced"
    PLUS = "plus"
    ENTERPRISE = "enterprise"


class ShopConnection(StrEnum):
    """How the shop connected: an App Store install, or a custom app's Admin API token."""

    OAUTH = "oauth"
    ACCESS_TOKEN = "access_token"  # noqa: S105 - a kind of connection, not a token


class Shop(Table):
    """A Shopify store that installed the app (kept across uninstall/reinstall)."""

    id: Serial  # added by Piccolo; declared for the type checker
    domain = Varchar(length=255, unique=True, null=False)
    name = Varchar(length=255, null=False, default="")
    email = Varchar(length=255, null=False, default="")
    plan_tier = Varchar(length=16, null=False, default=PlanTier.STANDARD, choices=PlanTier)
    connection = Varchar(length=16, null=False, default=ShopConnection.OAUTH, choices=ShopConnection)
    api_version = Varchar(length=16, null=False, default="")
    scopes = Text(null=False, default="")
    # Vault ciphertexts, never plaintext (see iam.vault).
    access_token = Text(null=True, default=None)
    access_token_expires_at = Timestamptz(null=True, default=None)
    refresh_token = Text(null=True, default=None)
    refresh_token_expires_at = Timestamptz(null=True, default=None)
    # Bumped by every token change, so a refresh can tell whether someone else refreshed first.
    token_version = Integer(null=False, default=0)
    # When Shopify stopped accepting the stored tokens (refresh token expired or revoked) while
    # the app stayed installed: the tokens are deleted, and opening the app from the admin
    # exchanges a new one (iam.app_home.ensure_connected). None while access works.
    access_lost_at = Timestamptz(null=True, default=None)
    installed_at = Timestamptz(null=True, default=None)
    uninstalled_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(null=False, default=TimestamptzNow())


class OAuthState(Table):
    """A single-use `state` of one install attempt, bound to the browser that started it."""

    state_hash = Varchar(length=64, unique=True, null=False)
    browser_hash = Varchar(length=64, null=False)
    shop_domain = Varchar(length=255, null=False)
    expires_at = Timestamptz(null=False, default=TimestamptzNow())
    used_at = Timestamptz(null=True, default=None)


class AccountSystem(StrEnum):
    CRM = "crm"
    TEMPLATES = "templates"  # the template (page builder) service


class AccountStatus(StrEnum):
    PENDING = "pending"  # being signed up (or retried)
    READY = "ready"
    FAILED = "failed"  # gave up: the merchant sees why and can retry


class ExternalAccount(Table):
    """The merchant's account in the CRM or the template service, and its provisioning."""

    id: Serial  # added by Piccolo; declared for the type checker
    shop = ForeignKey(references=Shop, null=False, on_delete=OnDelete.cascade)
    system = Varchar(length=16, null=False, choices=AccountSystem)
    remote_id = Varchar(length=128, null=True, default=None)
    status = Varchar(length=16, null=False, default=AccountStatus.PENDING, choices=AccountStatus)
    attempts = Integer(null=False, default=0)
    last_error = Text(null=True, default=None)
    access_token = Text(null=True, default=None)
    access_token_expires_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(null=False, default=TimestamptzNow())


class MerchantSession(Table):
    """Server-side session data; the browser holds only the random key in a cookie."""

    id: Serial  # added by Piccolo; declared for the type checker
    key = Varchar(length=128, unique=True, null=False)
    data = Bytea(null=False)
    expires_at = Timestamptz(null=True, default=None, index=True)
    # Which shop the session signed in, so uninstall can end every session of a shop.
    shop_domain = Varchar(length=255, null=True, index=True)


class AdminUser(Table):
    """An operator of the product (not a merchant), with an argon2id password hash."""

    id: Serial  # added by Piccolo; declared for the type checker
    email = Varchar(length=255, unique=True, null=False)
    password_hash = Varchar(length=255, null=False)
    last_login_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(null=False, default=TimestamptzNow())


class AdminSession(Table):
    """Admin sessions live apart from merchant ones: neither cookie opens the other side."""

    id: Serial  # added by Piccolo; declared for the type checker
    key = Varchar(length=128, unique=True, null=False)
    data = Bytea(null=False)
    expires_at = Timestamptz(null=True, default=None, index=True)


class AdminSignInThrottle(Table):
    """Failed admin sign-ins, counted per account (the email as typed) and per source (client
    address), and when the next attempt may be checked (iam.admin.authenticate)."""

    id: Serial  # added by Piccolo; declared for the type checker
    key = Varchar(length=320, unique=True, null=False)  # "account:<email>" or "source:<address>"
    failures = Integer(null=False, default=0)
    next_allowed_at = Timestamptz(null=True, default=None)
    last_failure_at = Timestamptz(null=True, default=None)


class AuditEntry(Table):
    """Who changed what, when, with the values before and after."""

    id: Serial  # added by Piccolo; declared for the type checker
    actor = Varchar(length=255, null=False)
    action = Varchar(length=64, null=False)
    subject = Varchar(length=255, null=False, default="")
    before = JSON(null=False, default="{}")
    after = JSON(null=False, default="{}")
    created_at = Timestamptz(null=False, default=TimestamptzNow(), index=True)


class PrivacyRequest(Table):
    """What a compliance webhook asked for and what we did, kept as the record of it."""

    shop_domain = Varchar(length=255, null=False, index=True)
    topic = Varchar(length=64, null=False)
    customer_id = Varchar(length=64, null=True, default=None)
    # For data requests: the data we hold about the customer, ready to hand to the merchant.
    export = JSON(null=False, default="{}")
    outcome = Text(null=False, default="")
    created_at = Timestamptz(null=False, default=TimestamptzNow())


TABLES: list[type[Table]] = [
    Shop,
    OAuthState,
    ExternalAccount,
    MerchantSession,
    PrivacyRequest,
    AdminUser,
    AdminSession,
    AdminSignInThrottle,
    AuditEntry,
]
