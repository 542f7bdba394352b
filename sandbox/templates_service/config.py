"""Configuration of the template service sandbox."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.common.config import OAuthSandboxConfig


@dataclass(frozen=True)
class TemplatesSandboxConfig(OAuthSandboxConfig):
    """Everything the template service sandbox needs; defaults suit local development."""

    client_id: str = "dev-templates-client"
    client_secret: str = "dev-templates-secret"
    public_url: str = "http://127.0.0.1:8003"
    app_scopes: tuple[str, ...] = ("accounts:read", "accounts:write")
    user_scopes: tuple[str, ...] = ("profile", "templates:read", "sites:read", "sites:write")
    token_prefix: str = "tpl_at_"
    realm: str = "templates"
