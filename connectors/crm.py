"""The CRM's shared tenant: users (IAM) and single-use login links."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.oauth_service import AccountServiceClient, rejection


@dataclass(frozen=True)
class LoginLink:
    url: str
    expires_in: int


class CrmClient(AccountServiceClient):
    system = "CRM"
    collection = "/api/v1/users"

    async def create_login_link(self, user_token: str, redirect_path: str | None = None) -> LoginLink:
        body = {"redirect_path": redirect_path} if redirect_path else {}
        response = await self.call("POST", "/api/v1/login-links", token=user_token, json=body)
        if response.status_code != 201:
            raise rejection(self.system, response)
        payload = response.json()
        return LoginLink(url=payload["url"], expires_in=int(payload["expires_in"]))
