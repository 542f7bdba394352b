"""The CRM's shared tenant: users (IAM), login links, and the funnel's commerce objects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.credentials import with_token
from connectors.errors import Rejected
from connectors.oauth_service import AccountServiceClient, UserClient, rejection


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

    async def upsert_products(
        self, user_token: str, products: Sequence[dict[str, Any]]
    ) -> tuple[dict[str, str], dict[str, Rejected]]:
        """Creates or updates up to 100 products by external id in one call (catalog import).

        Returns the CRM id of each written product and the refusal of each refused one,
        both by external id.
        """
        answer = await self.json(
            "POST",
            "/api/v1/products/batch",
            token=user_token,
            json={"products": list(products)},
            ok=(200,),
        )
        written = {str(row["external_id"]): str(row["id"]) for row in answer["data"]}
        refused = {
            str(products[int(row["index"])].get("external_id")): Rejected(
                self.system,
                "; ".join(f"{e.get('field')}: {e.get('message')}" for e in row["errors"]),
                status_code=422,
                code="validation_failed",
                fields={str(e.get("field")): str(e.get("message")) for e in row["errors"]},
            )
            for row in answer["errors"]
        }
        return written, refused

    async def upsert_campaign(self, user_token: str, campaign: dict[str, Any]) -> dict[str, Any]:
        return await self.upsert("/api/v1/campaigns", campaign, token=user_token)

    async def deactivate_campaign(self, user_token: str, campaign_id: str) -> None:
        """The campaign takes no new orders; one that no longer exists takes none either."""
        path = f"/api/v1/campaigns/{campaign_id}/deactivate"
        await self.json("POST", path, token=user_token, ok=(200, 404))

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

    async def subscribe_webhooks(self, user_token: str, url: str, topics: Sequence[str]) -> None:
        """Subscribes once per URL: a repeat meets the CRM's 409 for that URL and keeps the subscription."""
        await self.create("/api/v1/webhooks", {"url": url, "topics": list(topics)}, token=user_token)

    async def upsert_customer(self, user_token: str, customer: dict[str, Any]) -> dict[str, Any]:
        return await self.upsert("/api/v1/customers", customer, token=user_token)

    async def find_customer(self, user_token: str, external_id: str) -> dict[str, Any] | None:
        return await self.find_by_external_id("/api/v1/customers", external_id, token=user_token)

    async def delete_customer(self, user_token: str, customer_id: str) -> None:
        await self.json("DELETE", f"/api/v1/customers/{customer_id}", token=user_token, ok=(200, 204, 404))

    async def upsert_order(self, user_token: str, order: dict[str, Any]) -> dict[str, Any]:
        return await self.upsert("/api/v1/orders", order, token=user_token)

    async def find_order(self, user_token: str, external_id: str) -> dict[str, Any] | None:
        return await self.find_by_external_id("/api/v1/orders", external_id, token=user_token)

    async def get(self, user_token: str, path: str) -> dict[str, Any] | None:
        response = await self.call("GET", path, token=user_token)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise rejection(self.system, response)
        body: dict[str, Any] = response.json()
        return body

    async def order_fulfillments(self, user_token: str, order_id: str) -> list[dict[str, Any]]:
        page = await self.json("GET", f"/api/v1/orders/{order_id}/fulfillments", token=user_token)
        rows: list[dict[str, Any]] = page["data"]
        return rows

    async def create_fulfillment(
        self, user_token: str, order_id: str, fulfillment: dict[str, Any]
    ) -> dict[str, Any]:
        return await self.json(
            "POST", f"/api/v1/orders/{order_id}/fulfillments", token=user_token, json=fulfillment
        )

    async def update_fulfillment(
        self, user_token: str, order_id: str, fulfillment_id: str, fulfillment: dict[str, Any]
    ) -> dict[str, Any]:
        return await self.json(
            "PUT",
            f"/api/v1/orders/{order_id}/fulfillments/{fulfillment_id}",
            token=user_token,
            json=fulfillment,
        )


class CrmUser(UserClient[CrmClient]):
    """The CRM as the merchant's user: CrmClient's calls without the token argument."""

    async def create_login_link(self, redirect_path: str | None = None) -> LoginLink:
        return await with_token(self._tokens, self.client.create_login_link, redirect_path)

    async def upsert_product(self, product: dict[str, Any]) -> dict[str, Any]:
        return await with_token(self._tokens, self.client.upsert_product, product)

    async def upsert_products(
        self, products: Sequence[dict[str, Any]]
    ) -> tuple[dict[str, str], dict[str, Rejected]]:
        return await with_token(self._tokens, self.client.upsert_products, products)

    async def upsert_campaign(self, campaign: dict[str, Any]) -> dict[str, Any]:
        return await with_token(self._tokens, self.client.upsert_campaign, campaign)

    async def deactivate_campaign(self, campaign_id: str) -> None:
        await with_token(self._tokens, self.client.deactivate_campaign, campaign_id)

    async def campaign_offers(self, campaign_id: str) -> list[dict[str, Any]]:
        return await with_token(self._tokens, self.client.campaign_offers, campaign_id)

    async def upsert_offer(self, campaign_id: str, offer: dict[str, Any]) -> dict[str, Any]:
        return await with_token(self._tokens, self.client.upsert_offer, campaign_id, offer)

    async def delete_offer(self, campaign_id: str, offer_id: str) -> None:
        await with_token(self._tokens, self.client.delete_offer, campaign_id, offer_id)

    async def payment_processors(self) -> list[PaymentProcessor]:
        return await with_token(self._tokens, self.client.payment_processors)

    async def link_payment_processors(self, campaign_id: str, processor_ids: list[str]) -> None:
        await with_token(self._tokens, self.client.link_payment_processors, campaign_id, processor_ids)

    async def subscribe_webhooks(self, url: str, topics: Sequence[str]) -> None:
        await with_token(self._tokens, self.client.subscribe_webhooks, url, topics)

    async def upsert_customer(self, customer: dict[str, Any]) -> dict[str, Any]:
        return await with_token(self._tokens, self.client.upsert_customer, customer)

    async def find_customer(self, external_id: str) -> dict[str, Any] | None:
        return await with_token(self._tokens, self.client.find_customer, external_id)

    async def delete_customer(self, customer_id: str) -> None:
        await with_token(self._tokens, self.client.delete_customer, customer_id)

    async def upsert_order(self, order: dict[str, Any]) -> dict[str, Any]:
        return await with_token(self._tokens, self.client.upsert_order, order)

    async def find_order(self, external_id: str) -> dict[str, Any] | None:
        return await with_token(self._tokens, self.client.find_order, external_id)

    async def get(self, path: str) -> dict[str, Any] | None:
        return await with_token(self._tokens, self.client.get, path)

    async def order_fulfillments(self, order_id: str) -> list[dict[str, Any]]:
        return await with_token(self._tokens, self.client.order_fulfillments, order_id)

    async def create_fulfillment(self, order_id: str, fulfillment: dict[str, Any]) -> dict[str, Any]:
        return await with_token(self._tokens, self.client.create_fulfillment, order_id, fulfillment)

    async def update_fulfillment(
        self, order_id: str, fulfillment_id: str, fulfillment: dict[str, Any]
    ) -> dict[str, Any]:
        return await with_token(
            self._tokens, self.client.update_fulfillment, order_id, fulfillment_id, fulfillment
        )
