"""Configuration of the CRM sandbox."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.common.config import OAuthSandboxConfig

# A login link is a bearer credential in a URL: the CRM lets it live one minute at most.
MAX_LOGIN_LINK_TTL = 60


@dataclass(frozen=True)
class CrmSandboxConfig(OAuthSandboxConfig):
    """Everything the CRM sandbox needs; defaults suit `python -m sandbox.crm`."""

    client_id: str = "dev-crm-client"
    client_secret: str = "dev-crm-secret"
    public_url: str = "http://127.0.0.1:8002"
    app_scopes: tuple[str, ...] = ("users:read", "users:write")
    user_scopes: tuple[str, ...] = (
        "profile",
        "login_links:write",
        "products:read",
        "products:write",
        "campaigns:read",
        "campaigns:write",
        "payment_processors:read",
    )
    token_prefix: str = "crm_at_"
    realm: str = "crm"
    # Seconds a login link stays valid (at most 60).
    login_link_ttl: int = MAX_LOGIN_LINK_TTL
    # How long a CRM screen session opened by a login link lasts (the cookie's Max-Age).
    session_ttl: int = 8 * 3600

    def __post_init__(self) -> None:
        if not 0 < self.login_link_ttl <= MAX_LOGIN_LINK_TTL:
            raise ValueError(f"login_link_ttl must be 1..{MAX_LOGIN_LINK_TTL} seconds")
