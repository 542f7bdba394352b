"""The template (funnel page) service: merchant accounts."""

from __future__ import annotations

from connectors.oauth_service import AccountServiceClient


class TemplatesClient(AccountServiceClient):
    system = "Page builder"
    collection = "/api/v1/accounts"
