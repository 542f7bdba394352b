"""Shopify: the authorization-code grant (standalone installs) and the Admin GraphQL API.

Token exchange and refresh are Shopify's package's (iam/tokens.py, iam/app_home.py), over this
connector's HTTP client."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from connectors.credentials import TokenSource, with_token
from connectors.errors import ExternalServiceError, RateLimited, Rejected, Unauthorized
from connectors.shopify_limits import ShopifyRateLimiter
from lib import metrics

SYSTEM = "Shopify"
# THROTTLED answers waited out per call before giving up (each wait is exact, so few are needed).
THROTTLE_RETRIES = 5
MIN_RETRY_AFTER_SECONDS = 1.0


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    scopes: frozenset[str]
    access_token_expires_at: datetime | None
    refresh_token: str | None
    refresh_token_expires_at: datetime | None


def _grant_from(body: dict[str, Any], now: datetime) -> TokenGrant:
    try:
        access_token = str(body["access_token"])
    except KeyError:
        raise ExternalServiceError(SYSTEM, "token answer without access_token") from None
    expires_in = body.get("expires_in")
    refresh_expires_in = body.get("refresh_token_expires_in")
    return TokenGrant(
        access_token=access_token,
        scopes=frozenset(filter(None, str(body.get("scope", "")).split(","))),
        access_token_expires_at=now + timedelta(seconds=int(expires_in)) if expires_in else None,
        refresh_token=body.get("refresh_token"),
        refresh_token_expires_at=(
            now + timedelta(seconds=int(refresh_expires_in)) if refresh_expires_in else None
        ),
    )


@dataclass(frozen=True)
class GraphQLResult:
    data: dict[str, Any]
    cost: dict[str, Any]


class UserErrors(Rejected):
    """A mutation's `userErrors`: Shopify understood it and refused it (validation, a rule of
    the shop); the same mutation will not succeed later. The one error they become."""

    def __init__(self, root: str, errors: list[dict[str, Any]]) -> None:
        # field path -> message; an error on the input as a whole is keyed by the mutation
        fields = {
            ".".join(map(str, error.get("field") or [])) or root: str(error["message"]) for error in errors
        }
        super().__init__(SYSTEM, "; ".join(fields.values()), code="user_errors", fields=fields)
        self.root = root
        # Every message in Shopify's order (`fields` keeps one per field).
        self.messages = [str(error["message"]) for error in errors]


class ShopHostTransport(httpx.AsyncBaseTransport):
    """Sends what is addressed to `https://{shop}.myshopify.com` to where shops live here.

    Shopify's package builds its own URLs (`https://{shop}.myshopify.com/admin/oauth/...`);
    in development and tests shops live at the sandbox (`SHOPIFY_SHOP_BASE_URL`), so the one
    client both the connector and the package use maps those hosts there.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, shop_base_url: str) -> None:
        self.inner = inner
        self.shop_base_url = shop_base_url

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if request.url.scheme == "https" and host.endswith(".myshopify.com"):
            target = httpx.URL(self.shop_base_url.format(shop=host) + request.url.raw_path.decode("ascii"))
            request.url = target
            request.headers["Host"] = target.netloc.decode("ascii")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def shopify_http_client(
    shop_base_url: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The connector's HTTP client; it reaches shops where SHOPIFY_SHOP_BASE_URL says they are."""
    inner = transport or httpx.AsyncHTTPTransport()
    if shop_base_url != "https://{shop}":
        inner = ShopHostTransport(inner, shop_base_url)
    return httpx.AsyncClient(transport=inner, timeout=timeout)


class ShopifyClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        shop_base_url: str,
        api_version: str,
        client_id: str,
        client_secret: str,
        limiter: ShopifyRateLimiter | None = None,
    ) -> None:
        self.http = http
        self.limiter = limiter or ShopifyRateLimiter()
        self.shop_base_url = shop_base_url
        self.api_version = api_version
        self.client_id = client_id
        self.client_secret = client_secret

    def shop_url(self, shop: str, path: str) -> str:
        return self.shop_base_url.format(shop=shop) + path

    async def _post(self, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.http.post(url, **kwargs)
        except httpx.TimeoutException:
            raise ExternalServiceError(SYSTEM, "timed out") from None
        except httpx.TransportError as exc:
            raise ExternalServiceError(SYSTEM, f"unreachable ({type(exc).__name__})") from None

    async def _token_request(self, shop: str, form: dict[str, str], now: datetime) -> TokenGrant:
        response = await self._post(
            self.shop_url(shop, "/admin/oauth/access_token"),
            data={"client_id": self.client_id, "client_secret": self.client_secret, **form},
            headers={"Accept": "application/json"},
        )
        if response.status_code >= 500:
            raise ExternalServiceError(SYSTEM, f"token endpoint answered {response.status_code}")
        if response.status_code == 401:
            raise Unauthorized(SYSTEM, "client credentials refused", status_code=401)
        if response.status_code != 200:
            description = _error_description(response)
            raise Rejected(SYSTEM, description, status_code=response.status_code)
        return _grant_from(response.json(), now)

    async def exchange_code(self, shop: str, code: str, now: datetime) -> TokenGrant:
        """Trades an install's authorization code for an expiring offline token."""
        return await self._token_request(shop, {"code": code, "expiring": "1"}, now)

    async def graphql(
        self,
        shop: str,
        access_token: str,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        max_wait_seconds: float | None = None,
    ) -> GraphQLResult:
        """Runs a query within the shop's query-cost budget.

        Throttling is waited out (the limiter knows how long), never reported as a
        failure, unless the wait would exceed `max_wait_seconds` (default: the limiter's
        patience; a page a merchant waits for passes a short one).
        """
        patience = self.limiter.max_wait_seconds if max_wait_seconds is None else max_wait_seconds
        for _ in range(THROTTLE_RETRIES + 1):
            if not await self.limiter.wait_for(shop, self.limiter.estimate(query), patience):
                break
            try:
                return await self._graphql_once(shop, access_token, query, variables)
            except RateLimited as throttled:
                if throttled.retry_after_seconds > patience:
                    raise
                if throttled.retry_after_seconds:  # a 429; THROTTLED waits in wait_for instead
                    await self.limiter.sleep(throttled.retry_after_seconds)
        # Given up: the caller (a job put back in the queue) comes back when the bucket, as last
        # seen, affords the query, not a whole patience later; never at once, as other callers
        # drew the points it was waiting for.
        ready_in = self.limiter.seconds_until(shop, self.limiter.estimate(query))
        raise RateLimited(SYSTEM, max(MIN_RETRY_AFTER_SECONDS, ready_in))

    async def mutate(
        self, shop: str, access_token: str, mutation: str, variables: dict[str, Any], root: str
    ) -> dict[str, Any]:
        """Runs a mutation and returns its payload; the mutation's userErrors raise `UserErrors`.

        Every mutation goes through here: no caller reads `userErrors` itself.
        """
        result = await self.graphql(shop, access_token, mutation, variables)
        payload: dict[str, Any] = result.data.get(root) or {}
        errors = payload.get("userErrors") or []
        if errors:
            raise UserErrors(root, errors)
        return payload

    async def _graphql_once(
        self, shop: str, access_token: str, query: str, variables: dict[str, Any] | None
    ) -> GraphQLResult:
        response = await self._post(
            self.shop_url(shop, f"/admin/api/{self.api_version}/graphql.json"),
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": access_token, "Accept": "application/json"},
        )
        if response.status_code == 401:
            raise Unauthorized(SYSTEM, "access token refused", status_code=401)
        if response.status_code == 429:
            metrics.rate_limited_answers.labels("shopify").inc()
            raise RateLimited(SYSTEM, float(response.headers.get("Retry-After", "2")))
        if response.status_code >= 500:
            raise ExternalServiceError(
                SYSTEM, f"answered {response.status_code}", status_code=response.status_code
            )
        if response.status_code != 200:
            raise Rejected(SYSTEM, f"answered {response.status_code}", status_code=response.status_code)
        body = response.json()
        cost = body.get("extensions", {}).get("cost", {})
        self.limiter.observe(shop, query, cost)
        errors = body.get("errors")
        if errors:
            codes = {str(error.get("extensions", {}).get("code", "")) for error in errors}
            if "THROTTLED" in codes:
                # The limiter now holds Shopify's bucket: the next wait_for waits exactly enough.
                raise RateLimited(SYSTEM, 0.0)
            raise Rejected(
                SYSTEM, "; ".join(str(error.get("message")) for error in errors), code=",".join(codes)
            )
        return GraphQLResult(data=body.get("data") or {}, cost=cost)


class ShopifyAdmin:
    """The Admin API bound to one shop and its token (Shopify's own libraries hand out the
    same: `admin = await unauthenticated.admin(shop)`).

    Each call asks `tokens` for the shop's token; a 401 gets a fresh one and the call is sent
    once more. Throttling is the client's, as for any call.
    """

    def __init__(self, client: ShopifyClient, shop: str, tokens: TokenSource) -> None:
        self.client = client
        self.shop = shop
        self._tokens = tokens

    def shop_url(self, path: str) -> str:
        return self.client.shop_url(self.shop, path)

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, max_wait_seconds: float | None = None
    ) -> GraphQLResult:
        return await with_token(self._tokens, self._graphql, query, variables, max_wait_seconds)

    async def mutate(self, mutation: str, variables: dict[str, Any], root: str) -> dict[str, Any]:
        """The mutation's payload; its userErrors raise `UserErrors` (see ShopifyClient.mutate)."""
        return await with_token(self._tokens, self._mutate, mutation, variables, root)

    async def _graphql(
        self, token: str, query: str, variables: dict[str, Any] | None, max_wait_seconds: float | None
    ) -> GraphQLResult:
        return await self.client.graphql(
            self.shop, token, query, variables, max_wait_seconds=max_wait_seconds
        )

    async def _mutate(
        self, token: str, mutation: str, variables: dict[str, Any], root: str
    ) -> dict[str, Any]:
        return await self.client.mutate(self.shop, token, mutation, variables, root)


def _error_description(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"answered {response.status_code}"
    if isinstance(body, dict):
        return str(body.get("error_description") or body.get("error") or body.get("errors") or body)
    return str(body)
