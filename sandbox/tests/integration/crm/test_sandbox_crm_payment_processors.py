"""Payment processors: added by the merchant in the CRM (its settings screen, reached by a
login link) or by the control API; listed and linked to campaigns through the API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.tests.asgi_support import asgi_client
from sandbox.tests.integration.crm.sandbox_crm_support import (
    CRM_URL,
    Harness,
    Merchant,
    errors_of,
    running_crm,
)

SETTINGS = "/settings/payment-processors"


@pytest.fixture
async def crm() -> AsyncIterator[Harness]:
    async with running_crm() as harness:
        yield harness


@pytest.fixture
async def acme(crm: Harness) -> Merchant:
    return await crm.merchant("acme.myshopify.com")


async def add_by_control(crm: Harness, user_id: str, **body: Any) -> dict[str, Any]:
    processor: dict[str, Any] = await crm.control(
        "POST", f"users/{user_id}/payment-processors", json={"name": "Main Stripe", "kind": "stripe", **body}
    )
    return processor


def hidden(page: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', page)
    assert match is not None, f"no hidden {name} in the page"
    return match.group(1)


async def sign_in_to_settings(crm: Harness, merchant: Merchant, browser: httpx.AsyncClient) -> str:
    """What the merchant does: follow a fresh login link, then its Continue link. The page."""
    link = (await merchant.post("/api/v1/login-links", {"redirect_path": SETTINGS})).json()
    landing = await browser.get(link["url"].removeprefix(CRM_URL))
    assert landing.status_code == 200
    continue_to = re.search(r'<a id="continue" href="([^"]+)">', landing.text)
    assert continue_to is not None
    assert continue_to.group(1) == SETTINGS
    page = await browser.get(continue_to.group(1))
    assert page.status_code == 200, page.text
    return page.text


@pytest.fixture
async def browser(crm: Harness) -> AsyncIterator[httpx.AsyncClient]:
    """A separate client with its own cookie jar: the merchant's browser."""
    async with asgi_client(crm.app, base_url=CRM_URL) as client:
        yield client


async def test_new_user_has_no_payment_processors(acme: Merchant) -> None:
    assert (await acme.get("/api/v1/payment-processors")).json() == {"data": [], "next_cursor": None}


async def test_processor_added_by_control_is_listed_only_for_its_user(crm: Harness, acme: Merchant) -> None:
    added = await add_by_control(crm, acme.id)
    assert added["id"].startswith("pp_")
    listed = (await acme.get("/api/v1/payment-processors")).json()["data"]
    assert [(p["id"], p["name"], p["kind"], p["status"]) for p in listed] == [
        (added["id"], "Main Stripe", "stripe", "active")
    ]
    other = await crm.merchant("other.myshopify.com")
    assert (await other.get("/api/v1/payment-processors")).json()["data"] == []


async def test_merchant_adds_a_processor_on_the_settings_screen_opened_by_a_login_link(
    crm: Harness, acme: Merchant, browser: httpx.AsyncClient
) -> None:
    page = await sign_in_to_settings(crm, acme, browser)
    assert "No payment processors yet." in page
    form = {"csrf_token": hidden(page, "csrf_token"), "name": "PayPal EU", "kind": "paypal"}
    added = await browser.post(SETTINGS, data=form)
    assert added.status_code == 303
    assert added.headers["location"] == SETTINGS
    after = await browser.get(SETTINGS)
    assert "PayPal EU" in after.text
    listed = (await acme.get("/api/v1/payment-processors")).json()["data"]
    assert [(p["name"], p["kind"], p["status"]) for p in listed] == [("PayPal EU", "paypal", "active")]


async def test_settings_screen_has_no_script_and_a_strict_policy(
    crm: Harness, acme: Merchant, browser: httpx.AsyncClient
) -> None:
    await sign_in_to_settings(crm, acme, browser)
    page = await browser.get(SETTINGS)
    assert "<script" not in page.text.lower()
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


async def test_session_cookie_is_http_only_and_lax(crm: Harness, acme: Merchant) -> None:
    link = (await acme.post("/api/v1/login-links", {"redirect_path": SETTINGS})).json()
    landing = await crm.http.get(link["url"].removeprefix(CRM_URL))
    cookie = landing.headers["set-cookie"].lower()
    assert cookie.startswith("crm_session=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


async def test_settings_screen_without_a_session_is_401(browser: httpx.AsyncClient) -> None:
    response = await browser.get(SETTINGS)
    assert response.status_code == 401
    assert "Open CRM" in response.text


async def test_settings_form_without_the_csrf_token_is_refused(
    crm: Harness, acme: Merchant, browser: httpx.AsyncClient
) -> None:
    await sign_in_to_settings(crm, acme, browser)
    response = await browser.post(SETTINGS, data={"csrf_token": "forged", "name": "X", "kind": "stripe"})
    assert response.status_code == 403
    assert (await acme.get("/api/v1/payment-processors")).json()["data"] == []


async def test_settings_form_with_a_blank_name_shows_the_error_and_keeps_the_input(
    crm: Harness, acme: Merchant, browser: httpx.AsyncClient
) -> None:
    page = await sign_in_to_settings(crm, acme, browser)
    response = await browser.post(
        SETTINGS, data={"csrf_token": hidden(page, "csrf_token"), "name": " ", "kind": "nmi"}
    )
    assert response.status_code == 422
    assert "There is a problem" in response.text
    assert "Must not be blank." in response.text
    assert '<option value="nmi" selected>' in response.text


async def test_merchant_deactivates_a_processor_on_the_settings_screen(
    crm: Harness, acme: Merchant, browser: httpx.AsyncClient
) -> None:
    added = await add_by_control(crm, acme.id)
    page = await sign_in_to_settings(crm, acme, browser)
    response = await browser.post(
        f"{SETTINGS}/{added['id']}/status",
        data={"csrf_token": hidden(page, "csrf_token"), "status": "inactive"},
    )
    assert response.status_code == 303
    listed = (await acme.get("/api/v1/payment-processors")).json()["data"]
    assert [p["status"] for p in listed] == ["inactive"]


# -- linking to campaigns ---------------------------------------------------------------------


async def new_campaign(merchant: Merchant) -> str:
    campaign = await merchant.created(
        "/api/v1/campaigns",
        {"external_id": "f1", "name": "Funnel", "description": "", "currency": "USD", "country": "US"},
    )
    return str(campaign["id"])


async def test_campaign_links_active_processors_and_reads_them_back(crm: Harness, acme: Merchant) -> None:
    campaign_id = await new_campaign(acme)
    stripe = await add_by_control(crm, acme.id)
    paypal = await add_by_control(crm, acme.id, name="PayPal", kind="paypal")
    path = f"/api/v1/campaigns/{campaign_id}/payment-processors"
    assert (await acme.get(path)).json()["processor_ids"] == []
    response = await acme.put(path, {"processor_ids": [paypal["id"], stripe["id"]]})
    assert response.status_code == 200
    assert response.json()["processor_ids"] == [paypal["id"], stripe["id"]]
    read = (await acme.get(path)).json()
    assert read["campaign_id"] == campaign_id
    assert [p["kind"] for p in read["processors"]] == ["paypal", "stripe"]
    # The same links again change nothing.
    assert (await acme.put(path, {"processor_ids": [paypal["id"], stripe["id"]]})).json() == read


async def test_linking_an_unknown_processor_is_422(acme: Merchant) -> None:
    campaign_id = await new_campaign(acme)
    response = await acme.put(
        f"/api/v1/campaigns/{campaign_id}/payment-processors", {"processor_ids": ["pp_unknown"]}
    )
    assert list(errors_of(response)) == ["processor_ids[0]"]


async def test_linking_an_inactive_or_another_users_processor_is_422(crm: Harness, acme: Merchant) -> None:
    campaign_id = await new_campaign(acme)
    inactive = await add_by_control(crm, acme.id, status="inactive")
    other = await crm.merchant("other.myshopify.com")
    theirs = await add_by_control(crm, other.id)
    response = await acme.put(
        f"/api/v1/campaigns/{campaign_id}/payment-processors",
        {"processor_ids": [inactive["id"], theirs["id"]]},
    )
    errors = errors_of(response)
    assert "inactive" in errors["processor_ids[0]"]
    assert "not one of your" in errors["processor_ids[1]"]


async def test_processor_control_for_an_unknown_user_is_404(crm: Harness) -> None:
    response = await crm.http.post(
        "/_sandbox/users/usr_nobody/payment-processors", json={"name": "S", "kind": "stripe"}
    )
    assert response.status_code == 404
