"""Durable jobs in the app's database: enqueue in the caller's transaction, lease, retry.

Workers lease one job at a time (SQLite: an immediate transaction takes the write lock
first; PostgreSQL: FOR UPDATE SKIP LOCKED), keep the lease alive with a heartbeat while
the handler runs, and on failure requeue with exponential backoff and jitter until the
job becomes a dead letter carrying its last error. Jobs sharing an ordering key run one
at a time in creation order, so two changes of one entity are applied in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from piccolo.columns.combination import WhereRaw
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from connectors.errors import RateLimited
from sync.tables import Job

log = structlog.get_logger("funnelsync.jobs")

QUEUED, RUNNING, DONE, DEAD, CANCELLED = "queued", "running", "done", "dead", "cancelled"

# A job waits while an older job with its ordering key is still to run.
_NOT_BLOCKED_BY_AN_OLDER_JOB = WhereRaw(
    "NOT EXISTS (SELECT 1 FROM job AS earlier WHERE job.ordering_key IS NOT NULL"
    " AND earlier.ordering_key = job.ordering_key AND earlier.id < job.id"
    " AND earlier.status IN ('queued', 'running'))"
)


def utcnow() -> datetime:
    return datetime.now(tz=UTC)


def _engine() -> Engine:  # type: ignore[type-arg]
    return Job._meta.db


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """A transaction that may read then write without losing a race.

    SQLite needs the write lock up front (BEGIN IMMEDIATE), or two writers that both
    read first fail with "database is locked"; PostgreSQL gets row locks from the
    queries themselves. Nested calls join the outer transaction.
    """
    engine = _engine()
    if engine.transaction_exists():
        yield
        return
    if isinstance(engine, SQLiteEngine):
        async with engine.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with engine.transaction():
            yield


class RetryLater(Exception):
    """The work could not run now for a reason that is not a failure (e.g. throttling)."""

    def __init__(self, delay_seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds


class PermanentJobError(Exception):
    """Retrying cannot help: the job goes straight to the dead letters."""


@dataclass(frozen=True)
class JobContext:
    id: int
    kind: str
    payload: dict[str, Any]
    shop_domain: str | None
    attempt: int
    max_attempts: int

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


JobHandler = Callable[[JobContext], Awaitable[None]]


def new_job(
    kind: str,
    payload: Mapping[str, Any],
    *,
    shop_domain: str | None = None,
    ordering_key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = 8,
) -> Job:
    return Job(
        kind=kind,
        payload=dict(payload),
        shop_domain=shop_domain,
        ordering_key=ordering_key,
        status=QUEUED,
        run_at=run_at or utcnow(),
        max_attempts=max_attempts,
    )


async def enqueue(
    kind: str,
    payload: Mapping[str, Any],
    *,
    shop_domain: str | None = None,
    ordering_key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = 8,
) -> int:
    """Adds a job; inside a transaction it commits or rolls back with the caller's change."""
    job = new_job(
        kind,
        payload,
        shop_domain=shop_domain,
        ordering_key=ordering_key,
        run_at=run_at,
        max_attempts=max_attempts,
    )
    rows = await Job.insert(job).returning(Job.id)
    job_id: int = rows[0]["id"]
    return job_id


async def schedule_once(kind: str, shop_domain: str, *, delay: timedelta = timedelta(0)) -> None:
    """A recurring per-shop job queued at most once: asking again moves it earlier, never adds one."""
    run_at = utcnow() + delay
    queued = (
        await Job.select(Job.id, Job.run_at)
        .where((Job.kind == kind) & (Job.shop_domain == shop_domain) & (Job.status == QUEUED))
        .first()
    )
    if queued is None:
        await enqueue(kind, {}, shop_domain=shop_domain, ordering_key=f"{kind}:{shop_domain}", run_at=run_at)
    elif queued["run_at"] > run_at:
        await Job.update({Job.run_at: run_at}).where(Job.id == queued["id"])


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 2.0
    cap_seconds: float = 3600.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        # "Equal jitter": at least half the exponential delay, never a thundering herd.
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


async def lease_next(worker_id: str, lease_seconds: float) -> JobContext | None:
    now = utcnow()
    async with write_transaction():
        query = (
            Job.select(Job.id)
            .where(
                ((Job.status == QUEUED) & (Job.run_at <= now))
                | ((Job.status == RUNNING) & (Job.locked_until < now)),
                _NOT_BLOCKED_BY_AN_OLDER_JOB,
            )
            .order_by(Job.run_at, Job.id)
            .limit(1)
        )
        if isinstance(_engine(), PostgresEngine):
            query = query.lock_rows("UPDATE", skip_locked=True, of=(Job,))
        candidate = await query.first()
        if candidate is None:
            return None
        rows = (
            await Job.update(
                {
                    Job.status: RUNNING,
                    Job.locked_by: worker_id,
                    Job.locked_until: now + timedelta(seconds=lease_seconds),
                    Job.attempts: Job.attempts + 1,
                }
            )
            .where(Job.id == candidate["id"])
            .returning(Job.id, Job.kind, Job.payload, Job.shop_domain, Job.attempts, Job.max_attempts)
        )
    row = rows[0]
    payload = row["payload"]  # UPDATE ... RETURNING gives JSON back as text
    if isinstance(payload, str):
        payload = json.loads(payload)
    return JobContext(
        row["id"], row["kind"], payload, row["shop_domain"], row["attempts"], row["max_attempts"]
    )


async def _finish(job: JobContext, worker_id: str, values: dict[Any, Any]) -> None:
    # Only the lease holder may record the outcome: a worker whose lease expired and was
    # taken over must not overwrite the new holder's state.
    await Job.update(values).where((Job.id == job.id) & (Job.locked_by == worker_id))


async def _heartbeat(job: JobContext, worker_id: str, lease_seconds: float) -> None:
    while True:
        await asyncio.sleep(lease_seconds / 3)
        await Job.update({Job.locked_until: utcnow() + timedelta(seconds=lease_seconds)}).where(
            (Job.id == job.id) & (Job.locked_by == worker_id) & (Job.status == RUNNING)
        )


class Worker:
    def __init__(
        self,
        handlers: Mapping[str, JobHandler],
        *,
        worker_id: str | None = None,
        lease_seconds: float = 60.0,
        poll_interval_seconds: float = 0.5,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.handlers = dict(handlers)
        self.worker_id = worker_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.lease_seconds = lease_seconds
        self.poll_interval_seconds = poll_interval_seconds
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Called after an in-process enqueue so the job starts without waiting a poll."""
        self._wake.set()

    async def run_once(self) -> bool:
        """Leases and runs one job; False when nothing was due."""
        job = await lease_next(self.worker_id, self.lease_seconds)
        if job is None:
            return False
        await self._run(job)
        return True

    async def drain(self, max_jobs: int = 1000) -> int:
        """Runs due jobs until none is left (tests and the CLI use it)."""
        ran = 0
        while ran < max_jobs and await self.run_once():
            ran += 1
        return ran

    async def run_forever(self) -> None:
        log.info("worker_started", worker_id=self.worker_id)
        while True:
            try:
                if await self.run_once():
                    continue
            except Exception:  # the loop must outlive a broken database moment
                log.exception("worker_loop_error", worker_id=self.worker_id)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval_seconds)

    async def _run(self, job: JobContext) -> None:
        handler = self.handlers.get(job.kind)
        bound = log.bind(job_id=job.id, kind=job.kind, attempt=job.attempt, shop=job.shop_domain)
        if handler is None:
            await self._dead(job, f"no handler for job kind {job.kind!r}")
            bound.error("job_dead", reason="unknown kind")
            return
        heartbeat = asyncio.create_task(_heartbeat(job, self.worker_id, self.lease_seconds))
        try:
            await handler(job)
        except (RetryLater, RateLimited) as wait:
            # Being asked to slow down is not a failure of the work: no attempt is used up.
            delay = wait.delay_seconds if isinstance(wait, RetryLater) else wait.retry_after_seconds
            await self._requeue(job, delay, str(wait), count_attempt=False)
            bound.info("job_deferred", delay_seconds=delay, reason=str(wait))
        except PermanentJobError as exc:
            await self._dead(job, str(exc))
            bound.error("job_dead", reason=str(exc))
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if job.is_last_attempt:
                await self._dead(job, reason)
                bound.error("job_dead", reason=reason)
            else:
                delay = self.backoff.delay(job.attempt, self.rng)
                await self._requeue(job, delay, reason, count_attempt=True)
                bound.warning("job_retry", delay_seconds=round(delay, 2), reason=reason)
        else:
            await _finish(
                job,
                self.worker_id,
                {
                    Job.status: DONE,
                    Job.finished_at: utcnow(),
                    Job.locked_by: None,
                    Job.locked_until: None,
                },
            )
            bound.info("job_done")
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _requeue(self, job: JobContext, delay: float, reason: str, *, count_attempt: bool) -> None:
        values: dict[Any, Any] = {
            Job.status: QUEUED,
            Job.run_at: utcnow() + timedelta(seconds=delay),
            Job.locked_by: None,
            Job.locked_until: None,
            Job.last_error: reason,
        }
        if not count_attempt:
            values[Job.attempts] = Job.attempts - 1
        await _finish(job, self.worker_id, values)

    async def _dead(self, job: JobContext, reason: str) -> None:
        await _finish(
            job,
            self.worker_id,
            {
                Job.status: DEAD,
                Job.last_error: reason,
                Job.finished_at: utcnow(),
                Job.locked_by: None,
                Job.locked_until: None,
            },
        )


async def dead_letters(limit: int = 100) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await Job.select(Job.id, Job.kind, Job.shop_domain, Job.attempts, Job.last_error, Job.finished_at)
        .where(Job.status == DEAD)
        .order_by(Job.finished_at, ascending=False)
        .limit(limit)
    )
    return rows


async def replay_dead_letter(job_id: int) -> bool:
    rows = (
        await Job.update({Job.status: QUEUED, Job.attempts: 0, Job.run_at: utcnow(), Job.finished_at: None})
        .where((Job.id == job_id) & (Job.status == DEAD))
        .returning(Job.id)
    )
    return bool(rows)


async def cancel_jobs_of_shop(shop_domain: str) -> int:
    rows = (
        await Job.update({Job.status: CANCELLED, Job.finished_at: utcnow()})
        .where((Job.shop_domain == shop_domain) & (Job.status == QUEUED))
        .returning(Job.id)
    )
    return len(rows)
