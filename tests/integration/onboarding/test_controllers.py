"""The app's own pages: the probes operators point at it, and the home page with its vendored htmx."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from alerts.digests import email_alerts_on
from iam.tables import Shop
from lib.clock import utcnow
from onboarding.app import create_app
from sync.tables import WebhookCheck
from sync.topics import SHOPIFY_WEBHOOK_TOPICS
from tests.support.app import asgi_client, lifespan_of, make_settings
from tests.support.funnel_wizard import accounts_ready_and_signed_in, post_form
from tests.support.shops import SHOP


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


async def test_dashboard_shows_connection_health_in_each_state(database_url: str) -> None:
    async with accounts_ready_and_signed_in(database_url) as stack:
        healthy = (await stack.client.get("/app/")).text
        await Shop.update({Shop.refresh_token_expires_at: utcnow() + timedelta(days=2)}, force=True)
        await WebhookCheck.update(
            {
                WebhookCheck.missing: ["ORDERS_CREATE"],
                WebhookCheck.error: "Shopify: webhook ORDERS_CREATE: refused",
            },
            force=True,
        )
        warned = (await stack.client.get("/app/")).text
        await Shop.update({Shop.refresh_token_expires_at: utcnow() - timedelta(minutes=1)}, force=True)
        expired = (await stack.client.get("/app/")).text

    def row(page: str, name: str) -> str:
        match = re.search(rf'<div class="health-(\w+)">\s*<dt>{name}</dt>\s*<dd>(.*?)</dd>', page, re.S)
        assert match, (name, page)
        return f"{match.group(1)}: {' '.join(match.group(2).split())}"

    assert row(healthy, "Shopify access").startswith('ok: <span class="health-badge">OK</span> Connected')
    assert "can be refreshed until" in row(healthy, "Shopify access")
    assert row(healthy, "CRM account").startswith("ok:")
    assert row(healthy, "Page service account").startswith("ok:")
    assert f"All {len(SHOPIFY_WEBHOOK_TOPICS)} present" in row(healthy, "Webhook subscriptions")
    assert row(healthy, "Last webhook from CRM").startswith(("ok:", "unknown:"))
    assert row(warned, "Shopify access").startswith("warning:")
    assert "Access ends soon" in row(warned, "Shopify access")
    subscriptions = row(warned, "Webhook subscriptions")
    assert subscriptions.startswith("problem:")
    assert f"{len(SHOPIFY_WEBHOOK_TOPICS) - 1} of {len(SHOPIFY_WEBHOOK_TOPICS)} present" in subscriptions
    assert row(expired, "Shopify access").startswith("problem:")
    assert "can no longer be refreshed" in row(expired, "Shopify access")


async def test_email_alerts_switch_is_kept_and_needs_the_csrf_token(database_url: str) -> None:
    async with accounts_ready_and_signed_in(database_url) as stack:
        assert 'name="email_alerts" value="on" checked' in (await stack.client.get("/app/")).text
        refused = await stack.client.post("/app/alerts", data={})
        assert refused.status_code == 403
        assert await email_alerts_on(SHOP)

        off = await post_form(stack, "/app/alerts")  # the checkbox unticked: not sent
        assert off.status_code == 303  # type: ignore[attr-defined]
        page = (await stack.client.get(off.headers["location"])).text  # type: ignore[attr-defined]
        assert 'name="email_alerts" value="on" checked' not in page
        assert "Saved: email alerts are off." in page
        assert not await email_alerts_on(SHOP)

        await post_form(stack, "/app/alerts", {"email_alerts": "on"})
        assert await email_alerts_on(SHOP)
