"""The durable job queue on real databases built from the migrations."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from litestar import Litestar

from jobqueue.jobs import (
    JobContext,
    PermanentJobError,
    RetryLater,
    cancel_jobs_of_shop,
    dead_letters,
    enqueue,
    replay_dead_letter,
)
from jobqueue.tables import Job, JobStatus
from jobqueue.worker import Backoff, Worker, lease_next
from lib.db import write_transaction
from tests.conftest import lifespan_of

pytestmark = pytest.mark.postgres

NO_DELAY = Backoff(base_seconds=0, cap_seconds=0)


@pytest.fixture
async def database(app: Litestar) -> AsyncIterator[None]:
    """Binds the tables to this test's database (create_app does it) and runs the lifespan."""
    async with lifespan_of(app):
        yield


async def test_job_enqueued_in_a_rolled_back_transaction_does_not_exist(database: None) -> None:
    async def change_that_fails() -> None:
        async with write_transaction():
            await enqueue("noop", {})
            raise RuntimeError("the causing change failed")

    with pytest.raises(RuntimeError):
        await change_that_fails()
    assert await Job.count() == 0


async def test_jobs_of_one_entity_run_in_order_and_others_are_not_held_up(database: None) -> None:
    seen: list[str] = []

    async def record(job: JobContext) -> None:
        seen.append(job.payload["name"])

    await enqueue("record", {"name": "product-1 first"}, ordering_key="product:1")
    await enqueue("record", {"name": "product-2"}, ordering_key="product:2")
    await enqueue("record", {"name": "product-1 second"}, ordering_key="product:1")
    assert await Worker({"record": record}, backoff=NO_DELAY).drain() == 3
    assert seen.index("product-1 first") < seen.index("product-1 second")
    assert set(seen) == {"product-1 first", "product-2", "product-1 second"}


async def test_later_change_waits_while_the_earlier_one_is_being_retried(database: None) -> None:
    attempts: list[str] = []

    async def flaky(job: JobContext) -> None:
        attempts.append(job.payload["name"])
        if job.payload["name"] == "first" and job.attempt == 1:
            raise ConnectionError("CRM answered 503")

    await enqueue("flaky", {"name": "first"}, ordering_key="product:9")
    await enqueue("flaky", {"name": "second"}, ordering_key="product:9")
    worker = Worker({"flaky": flaky}, backoff=NO_DELAY)
    await worker.drain()
    assert attempts == ["first", "first", "second"]


async def test_failing_job_retries_with_backoff_then_becomes_a_dead_letter(database: None) -> None:
    async def broken(job: JobContext) -> None:
        raise ValueError("CRM rejected the product: price missing")

    job_id = await enqueue("broken", {}, max_attempts=3, shop_domain="a.myshopify.com")
    worker = Worker({"broken": broken}, backoff=NO_DELAY)
    await worker.drain()
    row = await Job.select().where(Job.id == job_id).first()
    assert row is not None
    assert row["status"] == JobStatus.DEAD
    assert row["attempts"] == 3
    assert row["last_error"] == "ValueError: CRM rejected the product: price missing"
    letters = await dead_letters()
    assert [letter["id"] for letter in letters] == [job_id]

    assert await replay_dead_letter(job_id)
    calls = 0

    async def fixed(job: JobContext) -> None:
        nonlocal calls
        calls += 1

    await Worker({"broken": fixed}).drain()
    assert calls == 1
    assert (await Job.select(Job.status).where(Job.id == job_id).first() or {})["status"] == JobStatus.DONE


async def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    backoff = Backoff(base_seconds=2, cap_seconds=60)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (4, 16), (10, 60)]:
        delays = {backoff.delay(attempt, rng) for _ in range(20)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1


async def test_retry_later_does_not_count_as_a_failed_attempt(database: None) -> None:
    calls = 0

    async def throttled_once(job: JobContext) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RetryLater(0, "Shopify THROTTLED")

    job_id = await enqueue("throttled", {}, max_attempts=1)
    await Worker({"throttled": throttled_once}).drain()
    row = await Job.select(Job.status, Job.attempts).where(Job.id == job_id).first()
    assert row == {"status": JobStatus.DONE, "attempts": 1}


async def test_permanent_error_and_unknown_kind_go_straight_to_dead_letters(database: None) -> None:
    async def refuse(job: JobContext) -> None:
        raise PermanentJobError("external id owned by another store")

    refused = await enqueue("refuse", {}, max_attempts=5)
    unknown = await enqueue("nobody-handles-this", {})
    await Worker({"refuse": refuse}).drain()
    rows = {row["id"]: row for row in await Job.select(Job.id, Job.status, Job.attempts, Job.last_error)}
    assert rows[refused]["status"] == JobStatus.DEAD
    assert rows[refused]["attempts"] == 1
    assert rows[unknown]["status"] == JobStatus.DEAD
    assert "no handler" in rows[unknown]["last_error"]


async def test_expired_lease_is_taken_over(database: None) -> None:
    ran: list[str] = []

    async def work(job: JobContext) -> None:
        ran.append("second worker")

    await enqueue("work", {})
    crashed = Worker({}, worker_id="crashed", lease_seconds=-1)  # its lease is already over
    assert await lease_next(crashed.worker_id, crashed.lease_seconds) is not None
    await Worker({"work": work}, worker_id="survivor").drain()
    assert ran == ["second worker"]


async def test_two_workers_never_run_one_job_twice(database: None) -> None:
    runs: list[int] = []

    async def slow(job: JobContext) -> None:
        runs.append(job.id)
        await asyncio.sleep(0)  # yield so the other worker races for the same rows

    for index in range(40):
        await enqueue("slow", {"n": index})
    first, second = Worker({"slow": slow}, worker_id="w1"), Worker({"slow": slow}, worker_id="w2")
    await asyncio.gather(first.drain(), second.drain())
    assert sorted(runs) == sorted(set(runs))
    assert len(runs) == 40


async def test_uninstall_cancels_the_shops_queued_jobs(database: None) -> None:
    await enqueue("provision", {}, shop_domain="gone.myshopify.com")
    await enqueue("provision", {}, shop_domain="stays.myshopify.com")
    assert await cancel_jobs_of_shop("gone.myshopify.com") == 1
    ran: list[str | None] = []

    async def provision(job: JobContext) -> None:
        ran.append(job.shop_domain)

    await Worker({"provision": provision}).drain()
    assert ran == ["stays.myshopify.com"]
