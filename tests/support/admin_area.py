"""The admin area's sign-in, for tests that act as an operator: an admin and a form post with CSRF."""

from __future__ import annotations

import httpx

from iam.admin import create_admin
from tests.support.shops import csrf_token

EMAIL, PASSWORD = "ops@example.com", "correct-horse-battery"


PLAN = {
    "code": "pro-monthly",
    "name": "Pro",
    "description": "For growing shops",
    "price": "29.00",
    "currency": "USD",
    "interval": "month",
    "trial_days": "14",
    "live_funnels_limit": "10",
    "synced_orders_limit": "5000",
    "upsells_limit": "5",
}


async def post(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    return await client.post(path, data={**data, "_csrf_token": await csrf_token(client)})


async def signed_in_admin(client: httpx.AsyncClient) -> None:
    await create_admin(EMAIL, PASSWORD)
    response = await post(client, "/admin/login", {"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/admin/plans"
