"""The recurring jobs of no shop are queued once when workers start, however many start."""

from __future__ import annotations

import pytest

from alerts.digests import JOB_SEND_DIGESTS
from analytics.rollup import JOB_ROLL_UP
from jobqueue.tables import Job, JobStatus
from lib.clock import utcnow
from onboarding.composition import start_periodic_jobs
from onboarding.settings import Settings
from sync.subscriptions import JOB_CHECK_ALL_WEBHOOKS


@pytest.mark.postgres
async def test_starting_workers_queues_each_periodic_job_once_a_period_ahead(
    database: None, settings: Settings
) -> None:
    await start_periodic_jobs(settings)
    await start_periodic_jobs(settings)  # a second worker process starting
    queued = await Job.select(Job.kind, Job.run_at, Job.shop_domain).where(Job.status == JobStatus.QUEUED)
    assert sorted(row["kind"] for row in queued) == sorted(
        [JOB_SEND_DIGESTS, JOB_CHECK_ALL_WEBHOOKS, JOB_ROLL_UP]
    )
    assert all(row["shop_domain"] is None and row["run_at"] > utcnow() for row in queued)
