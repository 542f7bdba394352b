"""The template (funnel page) service: accounts, templates, hosts, sites and publishing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from connectors.credentials import with_token
from connectors.errors import ExternalServiceError, Rejected
from connectors.oauth_service import AccountServiceClient, UserClient


@dataclass(frozen=True)
class FunnelTemplate:
    id: str
    name: str
    description: str
    category: str
    preview_url: str


@dataclass(frozen=True)
class SubdomainCheck:
    name: str
    available: bool
    reason: str | None
    url: str | None = None  # the address the service gives a site on this subdomain


@dataclass(frozen=True)
class PageImage:
    url: str
    alt: str


@dataclass(frozen=True)
class OfferBlock:
    """One offer on a funnel page, as the page builder's offer block takes it.

    Amounts are exact decimals in the page's currency; the page builder formats them in the
    page's locale. `price` is what the CRM charges for the offer, `original_price` the
    product's price before the offer's discount.
    """

    offer_id: str
    headline: str
    product_title: str
    variant_title: str  # "" for a product without variants
    image: PageImage | None
    original_price: Decimal
    price: Decimal
    available: bool  # False: shown as sold out, without a way to buy
    stock: int | None  # None: Shopify does not count it
    call_to_action: str

    @property
    def saving(self) -> Decimal:
        return max(self.original_price - self.price, Decimal(0))

    def as_json(self) -> dict[str, Any]:
        return {
            "offer_id": self.offer_id,
            "headline": self.headline,
            "product_title": self.product_title,
            "variant_title": self.variant_title,
            "image": {"url": self.image.url, "alt": self.image.alt} if self.image else None,
            "original_price": str(self.original_price),
            "price": str(self.price),
            "saving": str(self.saving),
            "available": self.available,
            "stock": self.stock,
            "call_to_action": self.call_to_action,
        }


@dataclass(frozen=True)
class PageBeacon:
    """How a live page reports its traffic to the app: an image request to `url` with the
    signed `token` (works without JavaScript) and the app's script at `script_url`."""

    url: str
    script_url: str
    token: str

    def as_json(self) -> dict[str, str]:
        return {"beacon_url": self.url, "script_url": self.script_url, "token": self.token}


@dataclass(frozen=True)
class PageContent:
    """A funnel page's content: the page builder renders it into the chosen template."""

    title: str
    headline: str  # at most 300 characters
    currency: str  # ISO 4217, the CRM campaign's
    locale: str  # BCP 47 (de-DE): how the page writes prices
    crm_campaign_id: str
    main_offer: OfferBlock
    upsells: tuple[OfferBlock, ...]
    # Shown when the shopper declines an upsell (the page builder's downsell block); None: no
    # downsell, or none to show now.
    downsell: OfferBlock | None = None
    beacon: PageBeacon | None = None  # None: the page reports no traffic

    def as_json(self) -> dict[str, Any]:
        beacon = {"analytics": self.beacon.as_json()} if self.beacon is not None else {}
        return beacon | {
            "title": self.title,
            "headline": self.headline,
            "currency": self.currency,
            "locale": self.locale,
            "crm_campaign_id": self.crm_campaign_id,
            "main_offer": self.main_offer.as_json(),
            "upsells": [upsell.as_json() for upsell in self.upsells],
            "downsell": self.downsell.as_json() if self.downsell else None,
        }


class TemplatesClient(AccountServiceClient):
    system = "Page builder"
    collection = "/api/v1/accounts"

    async def templates(self, user_token: str) -> list[FunnelTemplate]:
        found: list[FunnelTemplate] = []
        cursor: str | None = None
        while True:
            params = {"limit": "50", **({"cursor": cursor} if cursor else {})}
            page = await self.json("GET", "/api/v1/templates", token=user_token, params=params)
            found.extend(
                FunnelTemplate(
                    str(row["id"]),
                    str(row["name"]),
                    str(row.get("description", "")),
                    str(row.get("category", "")),
                    str(row["preview_url"]),
                )
                for row in page["data"]
            )
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    async def check_subdomain(self, user_token: str, name: str) -> SubdomainCheck:
        body = await self.json("GET", f"/api/v1/hosts/subdomains/{name}", token=user_token, ok=(200, 422))
        if "available" not in body:
            return SubdomainCheck(name, False, "That is not a valid subdomain")
        return SubdomainCheck(name, bool(body["available"]), body.get("reason"), body.get("url"))

    async def upsert_site(self, user_token: str, site: dict[str, Any]) -> dict[str, Any]:
        return await self.upsert("/api/v1/sites", site, token=user_token)

    async def update_site(self, user_token: str, site_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return await self.json("PUT", f"/api/v1/sites/{site_id}", token=user_token, json=changes)

    async def publish_site(self, user_token: str, site_id: str) -> dict[str, Any]:
        return await self.json("POST", f"/api/v1/sites/{site_id}/publish", token=user_token)

    async def unpublish_site(self, user_token: str, site_id: str) -> None:
        """Takes the page offline; a site that no longer exists is offline already."""
        await self.json("POST", f"/api/v1/sites/{site_id}/unpublish", token=user_token, ok=(200, 404))

    async def fetch_page(self, url: str) -> tuple[int, str]:
        """The published page as a visitor gets it (no token).

        Only on the service's own origin and without following redirects: an address or a
        redirect the service's answer names must not make the app fetch another host.
        """
        if not self._on_own_origin(url):
            raise Rejected(self.system, "the live page is not on the page service's address")
        try:
            response = await self.http.request("GET", url, withhold_token=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise ExternalServiceError(
                self.system, f"the live page did not answer ({type(exc).__name__})"
            ) from None
        return response.status_code, response.text

    def _on_own_origin(self, url: str) -> bool:
        try:
            wanted, own = httpx.URL(url), httpx.URL(self.base_url)
        except httpx.InvalidURL:
            return False
        return (wanted.scheme, wanted.host, wanted.port) == (own.scheme, own.host, own.port)


class TemplatesUser(UserClient[TemplatesClient]):
    """The template service as the merchant's user: TemplatesClient's calls without the token."""

    async def templates(self) -> list[FunnelTemplate]:
        return await with_token(self._tokens, self.client.templates)

    async def check_subdomain(self, name: str) -> SubdomainCheck:
        return await with_token(self._tokens, self.client.check_subdomain, name)

    async def upsert_site(self, site: dict[str, Any]) -> dict[str, Any]:
        return await with_token(self._tokens, self.client.upsert_site, site)

    async def update_site(self, site_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return await with_token(self._tokens, self.client.update_site, site_id, changes)

    async def publish_site(self, site_id: str) -> dict[str, Any]:
        return await with_token(self._tokens, self.client.publish_site, site_id)

    async def unpublish_site(self, site_id: str) -> None:
        await with_token(self._tokens, self.client.unpublish_site, site_id)
