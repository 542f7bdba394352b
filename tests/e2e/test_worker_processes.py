"""Two worker processes on one PostgreSQL queue: every job runs once, and a killed worker's job is not lost.

The workers are real processes (tests/e2e/counting_worker.py) running sync.jobs.Worker
against a database built by the migrations; only their handler is the test's. PostgreSQL
is required for this (SKIP LOCKED leasing between processes): REQUIRE_POSTGRES=1 turns its
absence into a failure, as everywhere else.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any

import asyncpg
import pytest
from piccolo.engine.postgres import PostgresEngine

from sync.jobs import new_job
from sync.tables import Job
from tests.conftest import PROJECT_DIR, postgres_execute, postgres_url
from tests.e2e.conftest import LOGS_DIR
from tests.e2e.counting_worker import KIND, TABLES_DDL

JOBS = 300
ORDERED_KEYS = 6  # the first 60 jobs share 6 ordering keys: each key's jobs must run in order
ORDERED_JOBS = 60
DEADLINE_SECONDS = 30.0
LEASE_SECONDS = 2.0  # short, so the killed worker's lease runs out quickly


@pytest.fixture
def queue_database(postgres_template: str) -> Iterator[str]:
    name = f"funnelsync_workers_{uuid.uuid4().hex[:10]}"
    postgres_execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    try:
        yield postgres_url(name)
    finally:
        postgres_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(queue_database: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(queue_database, timeout=5)
    try:
        for statement in TABLES_DDL:
            await connection.execute(statement)
        yield connection
    finally:
        await connection.close()


class WorkerProcess:
    def __init__(self, worker_id: str, database_url: str) -> None:
        LOGS_DIR.mkdir(parents=True, exist_ok=True)
        self.worker_id = worker_id
        self.log: IO[bytes] = (LOGS_DIR / f"worker-processes-{worker_id}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.counting_worker"],
            cwd=PROJECT_DIR,
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "WORKER_ID": worker_id,
                "LEASE_SECONDS": str(LEASE_SECONDS),
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def start_worker(queue_database: str) -> Iterator[Any]:
    started: list[WorkerProcess] = []

    def start(worker_id: str) -> WorkerProcess:
        worker = WorkerProcess(worker_id, queue_database)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


async def poll_until(description: str, check: Any, deadline_seconds: float = DEADLINE_SECONDS) -> Any:
    """Awaits `check()` until it returns something truthy; fails after the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)  # polling with a deadline
    raise AssertionError(f"not within {deadline_seconds}s: {description}")


async def enqueue_jobs(database_url: str) -> list[int]:
    """Queues the jobs with the product's own new_job, in one transaction."""
    engine = PostgresEngine(config={"dsn": database_url})
    previous = Job._meta.db
    Job._meta.db = engine
    try:
        jobs = [
            new_job(
                KIND,
                {"n": n, "seconds": 0.005},
                ordering_key=f"key-{n % ORDERED_KEYS}" if n < ORDERED_JOBS else None,
            )
            for n in range(JOBS)
        ]
        rows = await Job.insert(*jobs).returning(Job.id)
    finally:
        Job._meta.db = previous
    return [int(row["id"]) for row in rows]


async def start_both(db: asyncpg.Connection, start_worker: Any) -> tuple[WorkerProcess, WorkerProcess]:
    first, second = start_worker("worker-a"), start_worker("worker-b")

    async def both_ready() -> bool:
        for worker in (first, second):
            if worker.process.poll() is not None:
                raise AssertionError(f"{worker.worker_id} exited with {worker.process.returncode}")
        return int(await db.fetchval("SELECT count(*) FROM worker_ready")) == 2

    await poll_until("both workers started", both_ready)
    return first, second


async def all_done(db: asyncpg.Connection) -> bool:
    left = await db.fetchval("SELECT count(*) FROM job WHERE kind = $1 AND status <> 'done'", KIND)
    return int(left) == 0


async def assert_ordering_keys_kept(db: asyncpg.Connection) -> None:
    """Jobs of one ordering key ran in creation order, across both processes."""
    rows = await db.fetch(
        "SELECT job.ordering_key, job.id FROM job_execution"
        " JOIN job ON job.id = job_execution.job_id"
        " WHERE job.ordering_key IS NOT NULL ORDER BY job_execution.id"
    )
    by_key: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        by_key[row["ordering_key"]].append(row["id"])
    assert len(by_key) == ORDERED_KEYS
    for key, job_ids in by_key.items():
        assert job_ids == sorted(job_ids), f"{key} ran out of order: {job_ids}"


async def test_two_worker_processes_run_every_job_exactly_once(
    db: asyncpg.Connection, queue_database: str, start_worker: Any
) -> None:
    await start_both(db, start_worker)
    started = time.monotonic()
    job_ids = await enqueue_jobs(queue_database)

    await poll_until("the queue drained", lambda: all_done(db))
    drained_in = time.monotonic() - started

    executions = await db.fetch("SELECT job_id, worker_id, attempt FROM job_execution")
    ran = [row["job_id"] for row in executions]
    assert len(ran) == JOBS, f"{len(ran)} executions for {JOBS} jobs"
    assert sorted(ran) == sorted(job_ids)  # each job once: none twice, none missed
    assert {row["attempt"] for row in executions} == {1}
    per_worker = {
        worker: sum(1 for row in executions if row["worker_id"] == worker)
        for worker in ("worker-a", "worker-b")
    }
    assert min(per_worker.values()) > 0, per_worker  # both processes really took jobs
    assert int(await db.fetchval("SELECT count(*) FROM job_effect")) == JOBS
    statuses = await db.fetch("SELECT status, locked_by, attempts FROM job WHERE kind = $1", KIND)
    assert {(row["status"], row["locked_by"], row["attempts"]) for row in statuses} == {("done", None, 1)}
    await assert_ordering_keys_kept(db)
    print(f"\n{JOBS} jobs drained by two processes in {drained_in:.2f}s: {per_worker}")


async def test_a_killed_worker_s_job_is_finished_by_the_survivor_after_its_lease(
    db: asyncpg.Connection, queue_database: str, start_worker: Any
) -> None:
    doomed, survivor = await start_both(db, start_worker)
    started = time.monotonic()
    await enqueue_jobs(queue_database)

    async def some_effects() -> bool:
        return int(await db.fetchval("SELECT count(*) FROM job_effect")) >= JOBS // 3

    await poll_until("a third of the jobs done", some_effects)

    # Kill the doomed worker while it holds a lease: freeze it, check in the database that it
    # still holds the job it was seen running, then SIGKILL. If it finished that job in
    # between, let it go on and try again.
    async def kill_while_holding_a_job() -> asyncpg.Record | None:
        held = await db.fetchval(
            "SELECT id FROM job WHERE status = 'running' AND locked_by = $1", doomed.worker_id
        )
        if held is None:
            return None
        os.kill(doomed.process.pid, signal.SIGSTOP)
        still = await db.fetchrow(
            "SELECT id, locked_until FROM job WHERE id = $1 AND status = 'running' AND locked_by = $2",
            held,
            doomed.worker_id,
        )
        if still is None:
            os.kill(doomed.process.pid, signal.SIGCONT)
            return None
        doomed.process.kill()  # SIGKILL: no cleanup, no finishing, its lease just stops being renewed
        doomed.process.wait(timeout=10)
        return still

    held = await poll_until("the doomed worker seen holding a job", kill_while_holding_a_job)
    orphan, lease_ran_out_at = held["id"], held["locked_until"]
    killed_at = await db.fetchval("SELECT clock_timestamp()")

    await poll_until("the queue drained by the survivor", lambda: all_done(db))
    drained_in = time.monotonic() - started

    # At-least-once delivery: the orphaned job ran again (its first run may or may not have
    # reached its effect before the kill). Exactly-once effect: the handler's effect is keyed
    # by job id, so however many times a job ran, its effect is recorded once.
    orphan_runs = await db.fetch(
        "SELECT worker_id, attempt, at FROM job_execution WHERE job_id = $1 ORDER BY id", orphan
    )
    assert [(row["worker_id"], row["attempt"]) for row in orphan_runs] == [
        (doomed.worker_id, 1),
        (survivor.worker_id, 2),
    ]
    # The survivor took it over once the dead worker's lease had run out, not before.
    assert orphan_runs[1]["at"] >= lease_ran_out_at
    job = await db.fetchrow("SELECT status, attempts, locked_by FROM job WHERE id = $1", orphan)
    assert dict(job) == {"status": "done", "attempts": 2, "locked_by": None}

    twice = await db.fetch("SELECT job_id FROM job_execution GROUP BY job_id HAVING count(*) > 1")
    assert [row["job_id"] for row in twice] == [orphan]  # every other job ran exactly once
    assert int(await db.fetchval("SELECT count(*) FROM job_execution")) == JOBS + 1
    assert int(await db.fetchval("SELECT count(*) FROM job_effect")) == JOBS
    assert int(await db.fetchval("SELECT count(DISTINCT job_id) FROM job_effect")) == JOBS
    assert (
        int(await db.fetchval("SELECT count(*) FROM job WHERE kind = $1 AND status = 'done'", KIND)) == JOBS
    )
    await assert_ordering_keys_kept(db)
    after_kill = await db.fetchval(
        "SELECT count(*) FROM job_execution WHERE worker_id = $1 AND at > $2", survivor.worker_id, killed_at
    )
    print(f"\nkilled {doomed.worker_id} holding job {orphan}; the survivor ran {after_kill} jobs after it,")
    print(f"the orphan included; {JOBS} jobs, {JOBS} effects, drained in {drained_in:.2f}s")
