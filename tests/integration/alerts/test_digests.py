"""Alert digests reach a real SMTP server (the mail sandbox, in-process): once per period however
often the job runs or failures repeat, not at all when the merchant turned alerts off, again after
a failed send with the same content, and each problem only once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import time_machine
from litestar import Litestar

from alerts.digests import JOB_SEND_DIGESTS, AlertConfig, send_due_digests, set_email_alerts
from alerts.tables import AlertDigest
from billing.tables import PlanPrice, ProviderName, Subscription, SubscriptionStatus
from connectors.errors import ExternalServiceError
from connectors.mail import Mailer
from iam.admin import create_admin
from iam.tables import Shop, ShopConnection
from jobqueue.jobs import schedule_once
from jobqueue.tables import Job, JobStatus
from lib.clock import utcnow
from onboarding.settings import Settings
from sandbox.mail import create_mail_sandbox, mail_sandbox_of
from sync import activity
from sync.tables import SyncDirection, SyncEntity, SyncOutcome
from tests.support.app import asgi_client, lifespan_of, make_settings

SHOP = "alerted.myshopify.com"
MERCHANT = "owner@alerted.test"
ADMIN_ORIGIN = "https://admin.shopify.com"


@pytest.fixture
async def mail_app() -> AsyncIterator[Litestar]:
    app = create_mail_sandbox()
    async with lifespan_of(app):
        yield app


@pytest.fixture
def config(mail_app: Litestar) -> AlertConfig:
    port = mail_sandbox_of(mail_app).smtp_port
    return AlertConfig(
        mailer=Mailer(f"smtp://127.0.0.1:{port}", "FunnelSync <alerts@app.test>"),
        app_base_url="https://app.test",
        admin_origin=ADMIN_ORIGIN,
        interval=timedelta(hours=1),
        sync_failures=3,
        dead_letters=2,
    )


async def received(mail_app: Litestar) -> list[dict[str, Any]]:
    async with asgi_client(mail_app, "http://mail.test") as client:
        response: httpx.Response = await client.get("/_sandbox/messages")
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


async def a_shop(**values: Any) -> None:
    await Shop.insert(
        Shop(
            **{
                "domain": SHOP,
                "name": "Alerted",
                "email": MERCHANT,
                "access_token": "v1.sealed",
                "installed_at": utcnow(),
                **values,
            }
        )
    )


async def sync_fails(times: int, first: int = 1) -> None:
    for n in range(first, first + times):
        await activity.record(
            SHOP,
            SyncEntity.ORDER,
            SyncDirection.TO_CRM,
            f"gid://shopify/Order/{n}",
            SyncOutcome.REJECTED,
            "The delivery address is missing its city. Add it in Shopify, then retry.",
            label=f"#{1000 + n}",
        )


@pytest.mark.postgres
async def test_repeated_sync_failures_reach_the_merchant_once(
    database: None, mail_app: Litestar, config: AlertConfig
) -> None:
    await a_shop()
    await sync_fails(4)
    with time_machine.travel(utcnow().replace(minute=5), tick=False):
        assert await send_due_digests(config) == 1
        await sync_fails(3, first=10)  # still failing, same period
        assert await send_due_digests(config) == 0
        assert await send_due_digests(config) == 0  # a retry of the job

    messages = await received(mail_app)
    assert len(messages) == 1
    mail = messages[0]
    assert mail["to"] == [MERCHANT]
    assert "Your funnel's sync keeps failing" in mail["text"]
    assert "4 changes could not be synced" in mail["text"]
    assert "#1001" not in mail["text"]  # a digest names no customer or order
    assert await AlertDigest.count() == 1


@pytest.mark.postgres
async def test_the_next_period_tells_only_what_is_new(
    database: None, mail_app: Litestar, config: AlertConfig
) -> None:
    await a_shop()
    await sync_fails(3)
    start = utcnow().replace(minute=5)
    with time_machine.travel(start, tick=False):
        assert await send_due_digests(config) == 1
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        assert await send_due_digests(config) == 0  # nothing new: the same failures are not told again
        await sync_fails(3, first=20)
        assert await send_due_digests(config) == 1
    messages = await received(mail_app)
    assert len(messages) == 2
    assert "3 changes could not be synced" in messages[0]["text"]


async def test_no_digest_when_the_merchant_turned_alerts_off(
    database: None, mail_app: Litestar, config: AlertConfig
) -> None:
    await a_shop()
    await set_email_alerts(SHOP, False)
    await sync_fails(5)
    assert await send_due_digests(config) == 0
    assert await received(mail_app) == []
    assert await AlertDigest.count() == 0


async def test_a_send_that_failed_is_sent_by_the_retry_with_the_same_content(
    database: None, mail_app: Litestar, config: AlertConfig
) -> None:
    await a_shop()
    await sync_fails(3)
    unreachable = AlertConfig(
        **{**config.__dict__, "mailer": Mailer("smtp://127.0.0.1:1", "a@app.test", 2.0)}
    )
    with time_machine.travel(utcnow().replace(minute=5), tick=False):
        with pytest.raises(ExternalServiceError):
            await send_due_digests(unreachable)
        claimed = await AlertDigest.select(AlertDigest.sent_at, AlertDigest.items).first()
        assert claimed is not None
        assert claimed["sent_at"] is None
        await sync_fails(2, first=50)  # arrives between the failure and the retry
        assert await send_due_digests(config) == 1
        assert await send_due_digests(config) == 0
    messages = await received(mail_app)
    assert len(messages) == 1
    assert "3 changes could not be synced" in messages[0]["text"]  # what was claimed, nothing added


async def test_expired_shopify_access_is_told_with_the_link_that_re_authorises(
    database: None, mail_app: Litestar, config: AlertConfig
) -> None:
    await a_shop(refresh_token_expires_at=utcnow() - timedelta(minutes=1))
    assert await send_due_digests(config) == 1
    text = (await received(mail_app))[0]["text"]
    assert "Shopify access has expired" in text
    assert f"{ADMIN_ORIGIN}/store/alerted/apps/funnelsync" in text


async def test_operators_hear_when_dead_letters_pile_up(
    database: None, mail_app: Litestar, config: AlertConfig
) -> None:
    await create_admin("ops@app.test", "a long enough admin password 123")
    for _ in range(2):
        await Job.insert(Job(kind="sync.reconcile", payload={}, status=JobStatus.DEAD, last_error="boom"))
    assert await send_due_digests(config) == 1
    mail = (await received(mail_app))[0]
    assert mail["to"] == ["ops@app.test"]
    assert "2 jobs failed for good" in mail["text"]
    assert "https://app.test/admin/dead-letters" in mail["text"]


async def test_a_failed_payment_is_told_with_where_to_pay(
    database: None, mail_app: Litestar, config: AlertConfig
) -> None:
    await a_shop()
    price = await PlanPrice.select(PlanPrice.id, PlanPrice.plan).first()
    assert price is not None
    failed_at = utcnow() - timedelta(hours=2)
    await Subscription.insert(
        Subscription(
            shop_domain=SHOP,
            plan=price["plan"],
            plan_price=price["id"],
            provider=ProviderName.STRIPE,
            external_id="sub_failed",
            status=SubscriptionStatus.PAST_DUE,
            payment_failed_at=failed_at,
            grace_ends_at=failed_at + timedelta(days=7),
        )
    )
    assert await send_due_digests(config) == 1
    assert await send_due_digests(config) == 0
    text = (await received(mail_app))[0]["text"]
    assert "A payment failed" in text
    assert "https://app.test/billing/" in text


@pytest.fixture
def settings(database_url: str, mail_app: Litestar) -> Settings:
    """The app's own settings pointing its alerts at the mail sandbox (the worker's wiring)."""
    return make_settings(database_url, smtp_url=f"smtp://127.0.0.1:{mail_sandbox_of(mail_app).smtp_port}")


async def test_the_worker_runs_the_digest_job_once_and_queues_the_next_period(
    database: None, app: Litestar, mail_app: Litestar
) -> None:
    await a_shop(refresh_token_expires_at=utcnow() - timedelta(minutes=1))
    await schedule_once(JOB_SEND_DIGESTS, None)
    await app.state.worker.drain()
    assert len(await received(mail_app)) == 1
    queued = await Job.select(Job.run_at).where(
        (Job.kind == JOB_SEND_DIGESTS) & (Job.status == JobStatus.QUEUED)
    )
    assert len(queued) == 1
    assert queued[0]["run_at"] > utcnow()


async def test_access_shopify_refused_for_good_is_told_once_with_where_to_reconnect(
    database: None, mail_app: Litestar, config: AlertConfig
) -> None:
    # What iam.tokens records when Shopify refuses the stored pair for good: deleted, and since when.
    await a_shop(access_token=None, access_lost_at=utcnow())
    assert await send_due_digests(config) == 1
    with time_machine.travel(utcnow() + config.interval, tick=False):
        assert await send_due_digests(config) == 0  # told once, not every period
    text = (await received(mail_app))[0]["text"]
    assert "Shopify access has expired" in text
    link = f"{ADMIN_ORIGIN}/store/alerted/apps/funnelsync"
    assert f"Open the app in your Shopify admin to give it access again: {link}" in text


async def test_a_custom_app_whose_token_was_refused_is_asked_for_a_new_token(
    database: None, mail_app: Litestar, config: AlertConfig
) -> None:
    await a_shop(connection=ShopConnection.ACCESS_TOKEN, access_token=None, access_lost_at=utcnow())
    assert await send_due_digests(config) == 1
    text = (await received(mail_app))[0]["text"]
    assert "Connect again with a new Admin API access token: https://app.test/connect/" in text
    assert "Open the app in your Shopify admin" not in text


async def test_a_digest_that_cannot_be_sent_holds_back_no_other(
    database: None, mail_app: Litestar, config: AlertConfig
) -> None:
    await Shop.insert(
        Shop(domain="gone.myshopify.com", name="Gone", email="owner@gone.invalid", access_lost_at=utcnow())
    )
    await a_shop(refresh_token_expires_at=utcnow() - timedelta(hours=2))
    with time_machine.travel(utcnow().replace(minute=5), tick=False):
        with pytest.raises(ExternalServiceError, match="1 digest"):
            await send_due_digests(config)
        with pytest.raises(ExternalServiceError, match="1 digest"):
            await send_due_digests(config)  # the worker's retry: the refused one again, no other
    assert [m["to"] for m in await received(mail_app)] == [[MERCHANT]]
    assert await Job.exists().where((Job.kind == JOB_SEND_DIGESTS) & (Job.status == JobStatus.QUEUED))
