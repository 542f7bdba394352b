"""Publishing a funnel end to end against the sandboxes: the saga, its failures and resumes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from funnels.publish import JOB_PUBLISH_FUNNEL
from funnels.tables import Funnel, PublishStep
from jobqueue.tables import Job
from jobqueue.worker import Worker
from tests.integration.funnels.test_wizard_first_steps import (
    CAMPAIGN,
    SHOP,
    T_SHIRT,
    UPSELL,
    new_funnel,
    post_form,
)
from tests.integration.iam.support import install_shop, make_queued_jobs_due, sign_in
from tests.stack import TEMPLATES_URL, Stack, running_stack

HOODIE = "gid://shopify/ProductVariant/8000000000041"  # Organic Hoodie, M / Grey, 56.00


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url) as running:
        minted = await running.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")
        await install_shop(running.app, SHOP, access_token=minted.json()["access_token"])
        await running.drain()  # CRM and page builder accounts
        await sign_in(running.client, SHOP)
        yield running


async def crm_user_id(stack: Stack) -> str:
    users = (await stack.crm.get("/_sandbox/users")).json()["data"]
    return str(users[0]["id"])


async def add_payment_processor(stack: Stack) -> None:
    user_id = await crm_user_id(stack)
    added = await stack.crm.post(
        f"/_sandbox/users/{user_id}/payment-processors", json={"name": "Stripe", "kind": "stripe"}
    )
    assert added.status_code == 201


async def complete_wizard(stack: Stack, subdomain: str = "summer-tees") -> int:
    funnel_id = await new_funnel(stack)
    await post_form(stack, f"/funnels/{funnel_id}/campaign", CAMPAIGN)
    await post_form(stack, f"/funnels/{funnel_id}/product", {"variant_id": T_SHIRT})
    await post_form(
        stack, f"/funnels/{funnel_id}/upsells", {**UPSELL, "variant_id": HOODIE, "headline": "Add a hoodie"}
    )
    await post_form(stack, f"/funnels/{funnel_id}/upsells/continue")
    template = await stack.client.get(f"/funnels/{funnel_id}/template")
    assert "Classic" in template.text
    chosen = await post_form(stack, f"/funnels/{funnel_id}/template", {"template_id": "tpl_classic_sales"})
    assert chosen.headers["location"] == f"/funnels/{funnel_id}/hosting"  # type: ignore[attr-defined]
    hosted = await post_form(
        stack, f"/funnels/{funnel_id}/hosting", {"host_kind": "subdomain", "subdomain": subdomain}
    )
    assert hosted.headers["location"] == f"/funnels/{funnel_id}/review", hosted.text  # type: ignore[attr-defined]
    return funnel_id


async def counters(stack: Stack, sandbox: str) -> dict[str, Any]:
    client = stack.crm if sandbox == "crm" else stack.templates
    writes: dict[str, Any] = (await client.get("/_sandbox/counters")).json()["writes"]
    return writes


def created(writes: dict[str, Any], route: str) -> int:
    return int(writes.get(route, {}).get("responses", {}).get("201", 0))


async def test_publish_without_a_payment_processor_is_blocked_with_the_reason(stack: Stack) -> None:
    funnel_id = await complete_wizard(stack)
    review = await stack.client.get(f"/funnels/{funnel_id}/review")
    assert "None yet." in review.text
    refused = await post_form(stack, f"/funnels/{funnel_id}/publish")
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "Add a payment processor in the CRM" in refused.text  # type: ignore[attr-defined]
    assert await Job.count().where(Job.kind == JOB_PUBLISH_FUNNEL) == 0


async def test_publish_makes_the_funnel_live_with_one_campaign_and_one_site(stack: Stack) -> None:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    started = await post_form(stack, f"/funnels/{funnel_id}/publish")
    assert started.headers["location"] == f"/funnels/{funnel_id}/publishing"  # type: ignore[attr-defined]
    await stack.drain()

    funnel = await Funnel.select(Funnel.status, Funnel.live_url).first()
    assert funnel == {"status": "live", "live_url": f"{TEMPLATES_URL}/p/summer-tees/"}
    page = await stack.templates.get("/p/summer-tees/")
    assert page.status_code == 200
    assert "Summer launch" in page.text
    assert "Add a hoodie" in page.text
    progress = await stack.client.get(f"/funnels/{funnel_id}/publishing")
    assert "Your funnel is live" in progress.text

    campaigns = (await stack.crm.get("/_sandbox/campaigns")).json()["data"]
    assert len(campaigns) == 1
    assert len(campaigns[0]["offers"]) == 2
    assert len(campaigns[0]["processor_ids"]) == 1
    assert len((await stack.templates.get("/_sandbox/sites")).json()["data"]) == 1


async def test_republish_after_an_edit_updates_in_place(stack: Stack) -> None:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    await stack.drain()
    await post_form(stack, f"/funnels/{funnel_id}/campaign", {**CAMPAIGN, "name": "Summer launch, take two"})
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    await stack.drain()
    page = await stack.templates.get("/p/summer-tees/")
    assert "Summer launch, take two" in page.text
    crm_writes = await counters(stack, "crm")
    assert created(crm_writes, "POST /api/v1/campaigns") == 1
    assert created(await counters(stack, "templates"), "POST /api/v1/sites") == 1
    assert len((await stack.crm.get("/_sandbox/campaigns")).json()["data"]) == 1


async def test_failed_step_stops_shows_why_and_retry_resumes_there(stack: Stack) -> None:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    await stack.templates.post(
        "/_sandbox/faults", json={"kind": "http_500", "count": 100, "path_prefix": "/api/v1/sites"}
    )
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    for _ in range(5):
        await make_queued_jobs_due()
        await stack.drain()
    steps = {row["name"]: row for row in await PublishStep.select()}
    assert steps["campaign"]["status"] == "done"
    assert steps["site"]["status"] == "failed"
    assert "Page builder" in steps["site"]["error"]
    assert (await Funnel.select(Funnel.status).first()) == {"status": "failed"}
    page = await stack.client.get(f"/funnels/{funnel_id}/publishing")
    assert "Publishing stopped" in page.text
    assert "Try again" in page.text

    await stack.templates.delete("/_sandbox/faults")
    retried = await post_form(stack, f"/funnels/{funnel_id}/publishing/retry")
    assert retried.status_code == 303  # type: ignore[attr-defined]
    await stack.drain()
    assert (await Funnel.select(Funnel.status).first()) == {"status": "live"}
    assert created(await counters(stack, "crm"), "POST /api/v1/campaigns") == 1
    assert len((await stack.templates.get("/_sandbox/sites")).json()["data"]) == 1


async def test_a_worker_dying_mid_saga_leaves_nothing_done_twice(stack: Stack) -> None:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    doomed = Worker(stack.app.state.worker.handlers, worker_id="doomed", lease_seconds=60)
    run = asyncio.create_task(doomed.run_once())
    # Kill it as soon as the campaign exists, before the rest of the saga ran.
    for _ in range(500):
        if await PublishStep.count().where((PublishStep.name == "campaign") & (PublishStep.status == "done")):
            break
        await asyncio.sleep(0.01)
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run
    assert (await Funnel.select(Funnel.status).first()) == {"status": "publishing"}

    # The lease runs out; another worker takes the job over and finishes the saga.
    await Job.update({Job.locked_until: Job.created_at}).where(Job.kind == JOB_PUBLISH_FUNNEL)
    await stack.drain()
    assert (await Funnel.select(Funnel.status).first()) == {"status": "live"}
    assert len((await stack.crm.get("/_sandbox/campaigns")).json()["data"]) == 1
    assert len((await stack.templates.get("/_sandbox/sites")).json()["data"]) == 1
    assert created(await counters(stack, "crm"), "POST /api/v1/campaigns") == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"host_kind": "subdomain", "subdomain": "Bad_Name!"}, "lowercase letters"),
        ({"host_kind": "subdomain", "subdomain": "taken-shop"}, "already taken"),
        ({"host_kind": "subdomain", "subdomain": "www"}, "already taken"),
        ({"host_kind": "custom_domain", "custom_domain": "https://offers.example.com"}, "without https://"),
        ({"host_kind": "custom_domain", "custom_domain": "not a domain"}, "like offers.example.com"),
        ({"host_kind": "moon"}, "Choose where your funnel is hosted"),
    ],
)
async def test_bad_hosting_is_explained(stack: Stack, data: dict[str, str], message: str) -> None:
    funnel_id = await complete_wizard(stack)
    response = await post_form(stack, f"/funnels/{funnel_id}/hosting", data)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert message in response.text  # type: ignore[attr-defined]


async def test_forged_template_id_is_refused(stack: Stack) -> None:
    funnel_id = await complete_wizard(stack)
    response = await post_form(stack, f"/funnels/{funnel_id}/template", {"template_id": "tpl_not_real"})
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "Choose one of the templates" in response.text  # type: ignore[attr-defined]
    assert (await Funnel.select(Funnel.template_id).first()) == {"template_id": "tpl_classic_sales"}


async def test_published_products_carry_every_synced_field_as_shopify_holds_it(stack: Stack) -> None:
    await add_payment_processor(stack)
    funnel_id = await complete_wizard(stack)
    await post_form(stack, f"/funnels/{funnel_id}/publish")
    await stack.drain()

    products = {row["external_id"]: row for row in (await stack.crm.get("/_sandbox/products")).json()["data"]}
    t_shirt = {
        field: products[T_SHIRT].get(field) for field in ("vendor", "weight", "weight_unit", "barcode")
    }
    assert t_shirt == {
        "vendor": "Acme Outfitters",
        "weight": 180.0,
        "weight_unit": "g",
        "barcode": "770612544972",
    }
    assert products[T_SHIRT]["collections"] == ["Apparel", "Best sellers", "Home page", "Under 30"]
    assert products[T_SHIRT]["options"] == {"Size": "S", "Color": "White"}
    assert products[T_SHIRT]["url"].endswith(f"/shops/{SHOP}/products/classic-cotton-t-shirt")
    # One write per product of the funnel, by the saga: the catalog import had created them.
    assert (await counters(stack, "crm"))["PUT /api/v1/products/{product_id}"]["requests"] == 2
