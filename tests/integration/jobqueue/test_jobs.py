"""Durable jobs (jobqueue/jobs.py) on real databases built from the migrations: enqueued in the
caller's transaction, cancelled with their shop. How the worker runs them: test_worker.py."""

from __future__ import annotations

import pytest

from jobqueue.jobs import (
    JobContext,
    cancel_jobs_of_shop,
    enqueue,
)
from jobqueue.tables import Job
from jobqueue.worker import Worker
from lib.db import write_transaction

pytestmark = pytest.mark.postgres


async def test_job_enqueued_in_a_rolled_back_transaction_does_not_exist(database: None) -> None:
    async def change_that_fails() -> None:
        async with write_transaction():
            await enqueue("noop", {})
            raise RuntimeError("the causing change failed")

    with pytest.raises(RuntimeError):
        await change_that_fails()
    assert await Job.count() == 0


async def test_uninstall_cancels_the_shops_queued_jobs(database: None) -> None:
    await enqueue("provision", {}, shop_domain="gone.myshopify.com")
    await enqueue("provision", {}, shop_domain="stays.myshopify.com")
    assert await cancel_jobs_of_shop("gone.myshopify.com") == 1
    ran: list[str | None] = []

    async def provision(job: JobContext) -> None:
        ran.append(job.shop_domain)

    await Worker({"provision": provision}).drain()
    assert ran == ["stays.myshopify.com"]
