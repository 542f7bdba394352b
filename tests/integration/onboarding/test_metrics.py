"""/metrics: guarded by its bearer token, and its figures move when the app works.

Everything goes through HTTP as Prometheus and the outside world see it: scrape, send a signed
webhook, let the worker run, scrape again. Counters are process-wide (other tests count too),
so the tests compare a scrape with the one before.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from jobqueue.jobs import enqueue
from onboarding.app import create_app
from onboarding.metrics import MULTIPROCESS_DIR_VARIABLE, counted_registry
from onboarding.settings import Settings
from tests.support.app import asgi_client, lifespan_of, make_settings
from tests.support.environment import PROJECT_DIR
from tests.support.live_funnel import settle
from tests.support.scrape import figure, scrape, series
from tests.support.shops import SHOP, install_shop, post_webhook
from tests.support.stack import Stack, running_stack

TOKEN = "scrape-token-0123456789"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url, metrics_token=TOKEN) as running:
        yield running


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(settings.database_url, metrics_token=TOKEN))
    async with lifespan_of(app), asgi_client(app) as client:
        yield client


async def test_metrics_is_not_found_without_a_token_configured(client: httpx.AsyncClient) -> None:
    answer = await client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert answer.status_code == 404
    assert "funnelsync" not in answer.text


async def test_metrics_refuses_a_missing_or_wrong_token(guarded: httpx.AsyncClient) -> None:
    missing = await guarded.get("/metrics")
    wrong = await guarded.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
    not_bearer = await guarded.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
    for refused in (missing, wrong, not_bearer):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "funnelsync_" not in refused.text


async def test_metrics_answers_the_right_token_with_every_family_in_prometheus_text_format(
    guarded: httpx.AsyncClient,
) -> None:
    answer = await guarded.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "set-cookie" not in answer.headers  # a scraper is no browser: no session, no CSRF cookie
    families = {family.name for family in text_string_to_metric_families(answer.text)}
    assert families >= {
        "funnelsync_webhooks_received",
        "funnelsync_webhook_intake_seconds",
        "funnelsync_webhook_applied_lag_seconds",
        "funnelsync_jobs_due",
        "funnelsync_jobs_oldest_due_seconds",
        "funnelsync_job_failures",
        "funnelsync_dead_letters",
        "funnelsync_dead_letters_made",
        "funnelsync_shopify_bucket_headroom_ratio",
        "funnelsync_rate_limited_answers",
        "funnelsync_token_refresh_failures",
    }


async def test_request_latency_is_per_route_template_not_raw_path(guarded: httpx.AsyncClient) -> None:
    await guarded.get("/funnels/41/sync/")
    await guarded.get("/funnels/42/sync/")
    paths = {
        labels["path"]
        for labels in series(await scrape(guarded, TOKEN), "funnelsync_request_duration_seconds_count")
    }
    assert "/funnels/{funnel_id}/sync" in paths
    assert not {"/funnels/41/sync/", "/funnels/42/sync/"} & paths


@pytest.mark.postgres
async def test_metrics_move_when_webhooks_arrive_and_jobs_run(stack: Stack) -> None:
    token = (await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")).json()["access_token"]
    await install_shop(stack.app, SHOP, access_token=token)  # queues sign-ups and webhook registration
    # The CRM's first answer is a 429: the job waits (no attempt used) and goes through next time.
    fault = await stack.crm.post(
        "/_sandbox/faults", json={"kind": "rate_limit", "count": 1, "path_prefix": "/api/", "seconds": 0}
    )
    assert fault.status_code < 300, fault.text
    await enqueue("test.no_such_kind", {})  # a job no handler takes: a dead letter at once

    before = await scrape(stack.client, TOKEN)
    assert figure(before, "funnelsync_jobs_due", kind="iam.provision_account") >= 1
    assert figure(before, "funnelsync_jobs_oldest_due_seconds", kind="iam.provision_account") >= 0

    delivered = await post_webhook(
        stack.client, "app/uninstalled", {"id": 1, "myshopify_domain": SHOP}, shop_domain=SHOP
    )
    assert delivered.status_code == 200, delivered.text
    await settle(stack)
    after = await scrape(stack.client, TOKEN)

    def moved(name: str, **labels: str) -> float:
        return figure(after, name, **labels) - figure(before, name, **labels)

    assert (
        moved(
            "funnelsync_webhooks_received_total", source="shopify", topic="app/uninstalled", outcome="stored"
        )
        == 1
    )
    assert moved("funnelsync_webhook_intake_seconds_count", route="/webhooks/shopify", status_code="200") == 1
    assert moved("funnelsync_webhook_applied_lag_seconds_count", source="shopify") >= 1
    assert moved("funnelsync_rate_limited_answers_total", system="crm") == 1
    assert moved("funnelsync_job_failures_total", kind="test.no_such_kind") == 1
    assert moved("funnelsync_dead_letters_made_total", kind="test.no_such_kind") == 1
    assert figure(after, "funnelsync_dead_letters", kind="test.no_such_kind") == 1
    assert figure(after, "funnelsync_jobs_due", kind="iam.provision_account") == 0
    # Shopify's throttleStatus of the calls the jobs made (webhook registration): the sandbox's
    # shops are on the Standard plan's bucket.
    headroom = figure(after, "funnelsync_shopify_bucket_headroom_ratio", tier="standard")
    assert 0 < headroom <= 1


async def test_a_refresh_shopify_refuses_counts_as_a_token_refresh_failure(stack: Stack) -> None:
    await install_shop(
        stack.app, SHOP, access_token="shpat_not_known_to_shopify"
    )  # its refresh token neither
    before = await scrape(stack.client, TOKEN)
    await settle(stack)  # webhook registration: Shopify refuses the token, the refresh is refused too
    after = await scrape(stack.client, TOKEN)
    refused = {
        labels["reason"]: figure(after, "funnelsync_token_refresh_failures_total", **labels)
        - figure(before, "funnelsync_token_refresh_failures_total", **labels)
        for labels in series(after, "funnelsync_token_refresh_failures_total")
        if labels["system"] == "shopify"
    }
    assert sum(refused.values()) >= 1, refused


def test_in_multiprocess_mode_a_scrape_adds_up_every_processs_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker processes serve no HTTP: with PROMETHEUS_MULTIPROC_DIR what they count reaches the
    scrape of an app process through the directory."""
    count_one_failure = "from lib import metrics; metrics.job_failures.labels('test.elsewhere').inc()"
    env = {**os.environ, MULTIPROCESS_DIR_VARIABLE: str(tmp_path)}
    for _ in range(2):  # two worker processes, each counting one failure
        subprocess.run([sys.executable, "-c", count_one_failure], env=env, check=True, cwd=PROJECT_DIR)
    monkeypatch.setenv(MULTIPROCESS_DIR_VARIABLE, str(tmp_path))
    text = generate_latest(counted_registry()).decode()
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert figure(samples, "funnelsync_job_failures_total", kind="test.elsewhere") == 2
