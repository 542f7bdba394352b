"""A worker process for tests/integration/jobqueue/test_worker.py: the product's queue and Worker,
one test handler.

Run as `python -m tests.support.counting_worker` with DATABASE_URL (PostgreSQL), WORKER_ID,
LEASE_SECONDS and WORKER_CONCURRENCY (loops in the process, as `python -m onboarding worker`
runs them). Only the handler is the test's: leasing, heartbeats and finishing are
jobqueue's own. Each execution of a `test.count` job inserts a row into `job_execution`
(which worker ran which job, at which attempt), sleeps a moment, then records the job's
effect in `job_effect`, keyed by job id, so a job run twice still has one effect, and
sleeps a moment more before the job is finished.
"""

from __future__ import annotations

import asyncio
import os

from piccolo.engine.postgres import PostgresEngine

from jobqueue.jobs import JobContext
from jobqueue.tables import Job
from jobqueue.worker import Worker
from onboarding.observability import configure_logging

KIND = "test.count"
TABLES_DDL = (
    "CREATE TABLE job_execution (id SERIAL PRIMARY KEY, job_id INTEGER NOT NULL,"
    " worker_id TEXT NOT NULL, attempt INTEGER NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())",
    "CREATE TABLE job_effect (job_id INTEGER PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())",
    "CREATE TABLE worker_ready (worker_id TEXT PRIMARY KEY, pid INTEGER NOT NULL)",
)


async def count(worker_id: str, job: JobContext) -> None:
    await Job.raw(
        "INSERT INTO job_execution (job_id, worker_id, attempt) VALUES ({}, {}, {})",
        job.id,
        worker_id,
        job.attempt,
    )
    pause = float(job.payload.get("seconds", 0.005)) / 2
    await asyncio.sleep(pause)
    # The effect is idempotent by job id: at-least-once delivery, exactly-once effect.
    await Job.raw("INSERT INTO job_effect (job_id) VALUES ({}) ON CONFLICT (job_id) DO NOTHING", job.id)
    await asyncio.sleep(pause)  # the job is still running after its effect, as real work is


async def main() -> None:
    configure_logging("WARNING", json_lines=False)
    worker_id = os.environ["WORKER_ID"]
    # Its sessions carry the worker's id, so the test can tell when a frozen worker's
    # statements have all finished (pg_stat_activity.application_name).
    engine = PostgresEngine(
        config={"dsn": os.environ["DATABASE_URL"], "server_settings": {"application_name": worker_id}}
    )
    Job._meta.db = engine
    await engine.start_connection_pool(min_size=1, max_size=10)

    async def handler(job: JobContext) -> None:
        await count(worker_id, job)

    worker = Worker(
        {KIND: handler},
        worker_id=worker_id,
        lease_seconds=float(os.environ.get("LEASE_SECONDS", "60")),
        poll_interval_seconds=0.05,
    )
    await Job.raw("INSERT INTO worker_ready (worker_id, pid) VALUES ({}, {})", worker_id, os.getpid())
    concurrency = int(os.environ.get("WORKER_CONCURRENCY", "4"))
    await asyncio.gather(*(worker.run_forever() for _ in range(concurrency)))


if __name__ == "__main__":
    asyncio.run(main())
