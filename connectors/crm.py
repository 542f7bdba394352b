"""The CRM's shared tenant: users (IAM), login links, and the funnel's commerce objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.oauth_service import AccountServiceClient, rejection


@dataclass(frozen=True)
class LoginLink:
    url: str
    expires_in: int


@dataclass(frozen=True)
class PaymentProcessor:
    id: str
    name: str
    kind: str
    active: bool


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

    async def upsert_product(self, user_token: str, product: dict[str, Any]) -> dict[str, Any]:
        return await self.upsert("/api/v1/products", product, token=user_token)

    async def upsert_campaign(self, user_token: str, campaign: dict[str, Any]) -> dict[str, Any]:
        return await self.upsert("/api/v1/campaigns", campaign, token=user_token)

    async def campaign_offers(self, user_token: str, campaign_id: str) -> list[dict[str, Any]]:
        page = await self.json("GET", f"/api/v1/campaigns/{campaign_id}/offers", token=user_token)
        offers: list[dict[str, Any]] = page["data"]
        return offers

    async def upsert_offer(self, user_token: str, campaign_id: str, offer: dict[str, Any]) -> dict[str, Any]:
        return await self.upsert(f"/api/v1/campaigns/{campaign_id}/offers", offer, token=user_token)

    async def delete_offer(self, user_token: str, campaign_id: str, offer_id: str) -> None:
        await self.json(
            "DELETE",
            f"/api/v1/campaigns/{campaign_id}/offers/{offer_id}",
            token=user_token,
            ok=(200, 204, 404),
        )

    async def payment_processors(self, user_token: str) -> list[PaymentProcessor]:
        page = await self.json("GET", "/api/v1/payment-processors", token=user_token)
        return [
            PaymentProcessor(
                str(row["id"]), str(row["name"]), str(row["kind"]), row.get("status") == "active"
            )
            for row in page["data"]
        ]

    async def link_payment_processors(
        self, user_token: str, campaign_id: str, processor_ids: list[str]
    ) -> None:
        await self.json(
            "PUT",
            f"/api/v1/campaigns/{campaign_id}/payment-processors",
            token=user_token,
            json={"processor_ids": processor_ids},
        )
