"""Errors become answers in one place (onboarding/errors.py): unknown routes and methods, unexpected
failures without a trace, domain exceptions (not found, account not ready, external failures)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar, get, post

from connectors.errors import ExternalServiceError, RateLimited, Rejected
from funnels.tables import Funnel
from iam.errors import AccountNotReady
from iam.tokens import ShopNotConnected
from tests.support.app import add_test_routes
from tests.support.funnel_wizard import CAMPAIGN, T_SHIRT, UPSELL, new_funnel, post_form, two_shops_signed_in
from tests.support.shops import OTHER_SHOP, csrf_token, sign_in
from tests.support.stack import Stack

HTML = {"accept": "text/html"}
HTMX = {"hx-request": "true", "accept": "*/*"}
BOOSTED = {**HTMX, "hx-boosted": "true"}


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    """Two shops installed, their CRM and page builder accounts not set up yet (no worker ran)."""
    async with two_shops_signed_in(database_url) as running:
        yield running


def assert_no_trace(response: httpx.Response) -> None:
    for leak in ("Traceback", "FunnelNotFound", "AccountNotReady", "ExternalServiceError", 'File "'):
        assert leak not in response.text


def funnel_pages(funnel_id: int) -> list[str]:
    """A page of every funnel controller: wizard, publishing, settings, sync health."""
    return [
        f"/funnels/{funnel_id}",
        f"/funnels/{funnel_id}/campaign",
        f"/funnels/{funnel_id}/template",
        f"/funnels/{funnel_id}/publishing",
        f"/funnels/{funnel_id}/publishing/progress",
        f"/funnels/{funnel_id}/settings/",
        f"/funnels/{funnel_id}/sync/",
    ]


async def test_an_unknown_funnel_is_the_404_page_without_a_trace(stack: Stack) -> None:
    for path in funnel_pages(987654):
        response = await stack.client.get(path, headers=HTML)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        assert "Page not found" in response.text
        assert response.headers["x-request-id"] in response.text
        assert_no_trace(response)


async def test_another_shops_funnel_is_a_404_to_read_and_to_change(stack: Stack) -> None:
    funnel_id = await new_funnel(stack)
    await post_form(stack, f"/funnels/{funnel_id}/campaign", CAMPAIGN)
    await sign_in(stack.client, OTHER_SHOP)
    for path in funnel_pages(funnel_id):
        response = await stack.client.get(path, headers=HTML)
        assert response.status_code == 404, path
        assert "Page not found" in response.text
    for path, form in [
        (f"/funnels/{funnel_id}/campaign", {**CAMPAIGN, "name": "Hijacked"}),
        (f"/funnels/{funnel_id}/upsells/1/move", {"direction": "up"}),
        (f"/funnels/{funnel_id}/publishing/retry", {}),
        (f"/funnels/{funnel_id}/settings/", {"setting": "fulfilled_by_crm", "fulfilled_by_crm": "on"}),
    ]:
        changed = await post_form(stack, path, form)
        assert changed.status_code == 404, path  # type: ignore[attr-defined]
    row = await Funnel.select(Funnel.name, Funnel.fulfilled_by_crm, Funnel.status).first()
    assert row == {"name": "Summer launch", "fulfilled_by_crm": False, "status": "draft"}


async def test_htmx_gets_a_partial_and_a_boosted_page_is_loaded_whole(stack: Stack) -> None:
    polled = await stack.client.get("/funnels/987654/publishing/progress", headers=HTMX)
    assert polled.status_code == 404
    assert "Page not found" in polled.text
    assert "<html" not in polled.text
    assert "hx-redirect" not in polled.headers

    boosted = await stack.client.get("/funnels/987654/campaign?from=dashboard", headers=BOOSTED)
    assert boosted.status_code == 404
    assert "<html" not in boosted.text
    # htmx leaves error answers unswapped: the browser loads the address itself to show the page.
    assert boosted.headers["hx-redirect"] == "/funnels/987654/campaign?from=dashboard"


async def ready_for_template(stack: Stack) -> int:
    funnel_id = await new_funnel(stack)
    await post_form(stack, f"/funnels/{funnel_id}/campaign", CAMPAIGN)
    await post_form(stack, f"/funnels/{funnel_id}/product", {"variant_id": T_SHIRT})
    await post_form(stack, f"/funnels/{funnel_id}/upsells", UPSELL)
    confirmed = await post_form(stack, f"/funnels/{funnel_id}/upsells/continue")
    assert confirmed.headers["location"] == f"/funnels/{funnel_id}/template"  # type: ignore[attr-defined]
    return funnel_id


async def test_a_step_that_needs_an_account_still_being_set_up_says_so(stack: Stack) -> None:
    funnel_id = await ready_for_template(stack)
    page = await stack.client.get(f"/funnels/{funnel_id}/template", headers=HTML)
    assert page.status_code == 503
    assert "Your page builder account is still being set up" in page.text
    assert 'href="/setup"' in page.text
    assert_no_trace(page)

    swapped = await stack.client.get(f"/funnels/{funnel_id}/template", headers=BOOSTED)
    assert swapped.status_code == 503
    assert swapped.headers["hx-redirect"] == "/setup"  # the page that shows the setup's progress
    assert "<html" not in swapped.text

    as_json = await stack.client.get(f"/funnels/{funnel_id}/template", headers={"accept": "application/json"})
    assert as_json.status_code == 503
    assert as_json.json()["error"]["title"] == "Your page builder account is still being set up"

    setup = await stack.client.get("/setup")
    assert setup.status_code == 200


async def test_opening_the_crm_before_its_account_is_ready_says_so(stack: Stack) -> None:
    headers = {"x-csrftoken": await csrf_token(stack.client), **HTML}
    response = await stack.client.post("/crm/open", headers=headers)
    assert response.status_code == 503
    assert "Your CRM account is still being set up" in response.text
    assert 'href="/setup"' in response.text
    assert_no_trace(response)


def _add_failing_routes(app: Litestar) -> None:
    @get("/test/crm-down", sync_to_thread=False)
    def crm_down() -> str:
        raise ExternalServiceError("CRM", "unreachable (ConnectError) secret-upstream-detail")

    @get("/test/shopify-busy", sync_to_thread=False)
    def shopify_busy() -> str:
        raise RateLimited("Shopify", 2.5)

    @get("/test/builder-refused", sync_to_thread=False)
    def builder_refused() -> str:
        raise Rejected("Page builder", "answered 422 secret-upstream-detail", status_code=422)

    @post("/test/not-ready", sync_to_thread=False)
    def not_ready() -> str:
        raise AccountNotReady("demo-store.myshopify.com", "crm")

    @get("/test/shop-gone", sync_to_thread=False)
    def shop_gone() -> str:
        raise ShopNotConnected("demo-store.myshopify.com")

    for handler in (crm_down, shopify_busy, builder_refused, not_ready, shop_gone):
        app.register(handler)


async def test_external_failures_reaching_a_page_are_friendly_pages(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    _add_failing_routes(app)
    down = await client.get("/test/crm-down", headers=HTML)
    assert down.status_code == 503
    assert "The CRM did not answer" in down.text
    assert "Try again in a minute" in down.text
    assert "secret-upstream-detail" not in down.text
    assert_no_trace(down)

    busy = await client.get("/test/shopify-busy", headers=HTML)
    assert busy.status_code == 503
    assert "Shopify did not answer" in busy.text
    assert busy.headers["retry-after"] == "3"

    refused = await client.get("/test/builder-refused", headers=HTML)
    assert refused.status_code == 502
    assert "The page builder refused our request" in refused.text
    assert "secret-upstream-detail" not in refused.text

    fragment = await client.get("/test/crm-down", headers=HTMX)
    assert fragment.status_code == 503
    assert "The CRM did not answer" in fragment.text
    assert "<html" not in fragment.text

    gone = await client.get("/test/shop-gone", headers=HTML)
    assert gone.status_code == 401
    assert "Your store needs to be connected again" in gone.text
    assert "from your Shopify admin" in gone.text

    as_json = await client.get("/test/crm-down", headers={"accept": "application/json"})
    assert as_json.json()["error"] == {
        "status": 503,
        "title": "The CRM did not answer",
        "request_id": as_json.headers["x-request-id"],
    }


async def test_account_not_ready_from_any_route_points_to_the_setup_page(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    _add_failing_routes(app)
    token = await csrf_token(client)
    page = await client.post("/test/not-ready", headers={"x-csrftoken": token, **HTML})
    assert page.status_code == 503
    assert "Your CRM account is still being set up" in page.text
    assert 'href="/setup"' in page.text

    fragment = await client.post("/test/not-ready", headers={"x-csrftoken": token, **HTMX})
    assert fragment.status_code == 503
    assert fragment.headers["hx-redirect"] == "/setup"
    assert "Your CRM account is still being set up" in fragment.text
    assert "<html" not in fragment.text


async def test_unknown_route_gets_the_friendly_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Page not found" in response.text
    assert "Go to the home page" in response.text
    assert response.headers["x-request-id"] in response.text


async def test_unknown_route_answers_json_to_json_clients(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page", headers={"accept": "application/json"})
    assert response.status_code == 404
    body = response.json()
    assert body["error"]["status"] == 404
    assert body["error"]["request_id"] == response.headers["x-request-id"]


async def test_wrong_method_gets_a_friendly_405(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz", headers={"accept": "text/html"})
    assert response.status_code == 405
    assert "not how this page works" in response.text
    assert "GET" in response.headers["allow"]


async def test_unexpected_error_shows_no_stack_trace(app: Litestar, client: httpx.AsyncClient) -> None:
    add_test_routes(app)
    response = await client.get("/test/boom", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text
    assert "Traceback" not in response.text
    assert "secret-internal-detail" not in response.text
    assert "shpat_abc" not in response.text
