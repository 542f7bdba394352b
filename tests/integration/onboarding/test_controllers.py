"""The app's own pages: the probes operators point at it, and the home page with its vendored htmx."""

from __future__ import annotations

import re

import httpx
import pytest

from onboarding.app import create_app
from tests.support.app import asgi_client, lifespan_of, make_settings
from tests.support.funnel_wizard import accounts_ready_and_signed_in


@pytest.mark.postgres
async def test_probes_report_ok_on_a_migrated_database(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "detail": None}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


# Piccolo warns at engine creation when it cannot read the server version: expected here.
@pytest.mark.filterwarnings("ignore:.*Unable to fetch server version")
async def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    app = create_app(make_settings("postgresql://nobody@127.0.0.1:1/nowhere"))
    async with lifespan_of(app), asgi_client(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert "unreachable" in ready.json()["detail"]


async def test_readyz_is_503_when_migrations_are_missing(tmp_path: object) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path}/empty.sqlite3"))
    async with lifespan_of(app), asgi_client(app) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert "not applied" in ready.json()["detail"]


async def test_home_page_serves_vendored_htmx_with_integrity(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    match = re.search(
        r'<script src="(/static/vendor/htmx-2\.0\.\d+\.min\.js)" integrity="(sha384-[^"]+)"',
        page.text,
    )
    assert match is not None
    script = await client.get(match.group(1))
    assert script.status_code == 200
    assert "htmx" in script.text


async def test_dashboard_shows_our_plan_apart_from_the_shopify_plan(database_url: str) -> None:
    async with accounts_ready_and_signed_in(database_url) as stack:
        page = await stack.client.get("/app/")

    assert "Your plan: <strong>Free (shared CRM)</strong>" in page.text
    assert re.search(r"· Shopify [A-Z]", page.text), page.text
    assert not re.search(r"\w plan\s", page.text.split("Your plan:")[0])  # Shopify's tier is not "our plan"
