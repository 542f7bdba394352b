"""The worker (jobqueue/worker.py): leases, order per entity, retries with backoff, dead letters, and
leases taken over, in-process on real databases built from the migrations; then real processes.

Two worker processes on one PostgreSQL queue: every job runs once, and a killed worker's jobs
are not lost. The workers are real processes (tests/support/counting_worker.py) running
jobqueue.worker.Worker, with several job loops each as `python -m onboarding worker` runs them,
against a database built by the migrations; only their handler is the test's. PostgreSQL is
what lets processes share the queue (FOR UPDATE SKIP LOCKED): REQUIRE_POSTGRES=1 turns its
absence into a failure, as everywhere else; without it those tests are skipped.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import IO, Any

import asyncpg
import pytest
import time_machine
from piccolo.engine.postgres import PostgresEngine

from jobqueue.jobs import (
    JobContext,
    PermanentJobError,
    RetryLater,
    dead_letters,
    enqueue,
    new_job,
    replay_dead_letter,
)
from jobqueue.tables import Job, JobStatus
from jobqueue.worker import Backoff, Worker, lease_next
from lib.clock import utcnow
from tests.support.counting_worker import KIND, TABLES_DDL
from tests.support.databases import postgres_execute, postgres_url
from tests.support.environment import LOGS_DIR, PROJECT_DIR

# -- one process: the worker's rules ---------------------------------------------------------------

NO_DELAY = Backoff(base_seconds=0, cap_seconds=0)


@pytest.mark.postgres
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


@pytest.mark.postgres
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


@pytest.mark.postgres
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


@pytest.mark.postgres
async def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    backoff = Backoff(base_seconds=2, cap_seconds=60)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (4, 16), (10, 60)]:
        delays = {backoff.delay(attempt, rng) for _ in range(20)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1


@pytest.mark.postgres
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


@pytest.mark.postgres
async def test_a_job_waiting_for_something_waits_up_to_its_deadline_then_is_a_dead_letter(
    database: None,
) -> None:
    async def wait_for_the_order(job: JobContext) -> None:
        raise RetryLater(0, "the order has not reached the CRM yet", wait_at_most=timedelta(hours=1))

    job_id = await enqueue("wait", {}, max_attempts=1)
    worker = Worker({"wait": wait_for_the_order})
    with time_machine.travel(utcnow(), tick=True) as traveller:
        assert await worker.run_once()
        first = await Job.select(Job.status, Job.attempts, Job.waiting_since).where(Job.id == job_id).first()
        assert first is not None
        assert first["waiting_since"] is not None
        assert (first["status"], first["attempts"]) == (JobStatus.QUEUED, 0)  # waiting uses no attempt
        traveller.shift(timedelta(minutes=59))
        assert await worker.run_once()  # its wait counts from the first
        again = await Job.select(Job.status, Job.waiting_since).where(Job.id == job_id).first()
        assert again == {"status": JobStatus.QUEUED, "waiting_since": first["waiting_since"]}
        traveller.shift(timedelta(minutes=1))
        assert await worker.run_once()

        row = await Job.select(Job.status, Job.last_error).where(Job.id == job_id).first()
        assert row == {
            "status": JobStatus.DEAD,
            "last_error": "Gave up after waiting 1 hour: the order has not reached the CRM yet",
        }
        # A replay waits its whole time again.
        assert await replay_dead_letter(job_id)
        assert await worker.run_once()
        assert await Job.select(Job.status).where(Job.id == job_id).first() == {"status": JobStatus.QUEUED}


@pytest.mark.postgres
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


@pytest.mark.postgres
async def test_expired_lease_is_taken_over(database: None) -> None:
    ran: list[str] = []

    async def work(job: JobContext) -> None:
        ran.append("second worker")

    await enqueue("work", {})
    crashed = Worker({}, worker_id="crashed", lease_seconds=-1)  # its lease is already over
    assert await lease_next(crashed.worker_id, crashed.lease_seconds) is not None
    await Worker({"work": work}, worker_id="survivor").drain()
    assert ran == ["second worker"]


@pytest.mark.postgres
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


# -- two processes on one PostgreSQL queue -----------------------------------------------------------

JOBS = 300
ORDERED_KEYS = 6  # the first 60 jobs share 6 ordering keys: each key's jobs must run in order
ORDERED_JOBS = 60
DEADLINE_SECONDS = 30.0
JOB_SECONDS = 0.01  # each job's handler sleeps this long, half before its effect, half after
LEASE_SECONDS = 2.0  # short, so the killed worker's leases run out quickly
CONCURRENCY = 4  # job loops per process, as `python -m onboarding worker` runs by default


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
            [sys.executable, "-m", "tests.support.counting_worker"],
            cwd=PROJECT_DIR,
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "WORKER_ID": worker_id,
                "LEASE_SECONDS": str(LEASE_SECONDS),
                "WORKER_CONCURRENCY": str(CONCURRENCY),
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


async def poll_until(
    description: str, check: Any, deadline_seconds: float = DEADLINE_SECONDS, interval: float = 0.05
) -> Any:
    """Awaits `check()` until it returns something truthy; fails after the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(interval)  # polling with a deadline
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
                {"n": n, "seconds": JOB_SECONDS},
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


async def test_a_killed_worker_s_jobs_run_again_after_their_leases_with_one_effect_each(
    db: asyncpg.Connection, queue_database: str, start_worker: Any
) -> None:
    doomed, survivor = await start_both(db, start_worker)
    started = time.monotonic()
    await enqueue_jobs(queue_database)

    async def some_effects() -> bool:
        return int(await db.fetchval("SELECT count(*) FROM job_effect")) >= JOBS // 10

    await poll_until("a tenth of the jobs done", some_effects, interval=0.005)

    # Kill the doomed worker at the worst moment: it holds jobs, and one of them has had its
    # effect but is not finished, so it must run again. Freeze it, let the statements it had
    # already sent finish, read in the database what it holds (frozen, it can neither finish a
    # job nor take one), then SIGKILL; if that moment has not come yet, let it go on for a
    # moment and look again.
    async def statements_finished() -> bool:
        # A statement the worker sent just before it froze still runs to its end in PostgreSQL.
        active = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'",
            doomed.worker_id,
        )
        return int(active) == 0

    async def kill_after_an_effect() -> list[asyncpg.Record] | None:
        os.kill(doomed.process.pid, signal.SIGSTOP)
        await poll_until("the frozen worker's last statements to finish", statements_finished, interval=0.001)
        held: list[asyncpg.Record] = await db.fetch(
            "SELECT id, locked_until, EXISTS (SELECT 1 FROM job_effect WHERE job_id = job.id) AS effect"
            " FROM job WHERE status = 'running' AND locked_by = $1",
            doomed.worker_id,
        )
        if not any(row["effect"] for row in held):
            os.kill(doomed.process.pid, signal.SIGCONT)
            return None
        doomed.process.kill()  # SIGKILL: no cleanup, no finishing; its leases just stop being renewed
        doomed.process.wait(timeout=10)
        return held

    held = await poll_until(
        "the doomed worker seen holding a job past its effect", kill_after_an_effect, interval=0.001
    )
    orphans = {row["id"]: row["locked_until"] for row in held}
    effects_before_kill = sum(1 for row in held if row["effect"])
    killed_at = await db.fetchval("SELECT clock_timestamp()")

    await poll_until("the queue drained by the survivor", lambda: all_done(db))
    drained_in = time.monotonic() - started

    # At-least-once delivery: each orphaned job ran again (its first run may not have started,
    # or may have reached its effect, before the kill). Exactly-once effect: the handler's
    # effect is keyed by job id, so however many times a job ran, its effect is recorded once.
    runs_before_kill = 0
    for orphan, lease_ran_out_at in orphans.items():
        runs = await db.fetch(
            "SELECT worker_id, attempt, at FROM job_execution WHERE job_id = $1 ORDER BY id", orphan
        )
        *earlier, last = [(row["worker_id"], row["attempt"], row["at"]) for row in runs]
        assert [(worker, attempt) for worker, attempt, _ in earlier] in ([], [(doomed.worker_id, 1)]), runs
        assert last[:2] == (survivor.worker_id, 2), runs
        # The survivor took it over once the dead worker's lease had run out, not before.
        assert last[2] >= lease_ran_out_at
        runs_before_kill += len(earlier)
        job = await db.fetchrow("SELECT status, attempts, locked_by FROM job WHERE id = $1", orphan)
        assert dict(job) == {"status": "done", "attempts": 2, "locked_by": None}

    twice = await db.fetch("SELECT job_id FROM job_execution GROUP BY job_id HAVING count(*) > 1")
    assert {row["job_id"] for row in twice} <= set(orphans)  # every other job ran exactly once
    assert len(twice) >= effects_before_kill >= 1  # a job whose effect had happened ran again
    assert int(await db.fetchval("SELECT count(*) FROM job_execution")) == JOBS + runs_before_kill
    assert int(await db.fetchval("SELECT count(*) FROM job_effect")) == JOBS
    assert int(await db.fetchval("SELECT count(DISTINCT job_id) FROM job_effect")) == JOBS
    done = await db.fetchval("SELECT count(*) FROM job WHERE kind = $1 AND status = 'done'", KIND)
    assert int(done) == JOBS
    await assert_ordering_keys_kept(db)
    after_kill = await db.fetchval(
        "SELECT count(*) FROM job_execution WHERE worker_id = $1 AND at > $2", survivor.worker_id, killed_at
    )
    print(
        f"\nkilled {doomed.worker_id} holding {len(orphans)} job(s) ({runs_before_kill} started,"
        f" {effects_before_kill} past their effect);"
        f" the survivor ran {after_kill} jobs after that, the orphans included;"
        f" {JOBS} jobs, {JOBS} effects, drained in {drained_in:.2f}s"
    )
