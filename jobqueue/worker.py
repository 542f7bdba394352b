"""The worker: leases due jobs, keeps each lease alive while its handler runs, records the outcome.

A failure requeues the job with exponential backoff and jitter until it becomes a dead
letter carrying its last error; being asked to slow down (RetryLater, RateLimited) uses
no attempt. A job waiting for something else to happen first waits up to its deadline, then
becomes a dead letter saying what it waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer
from piccolo.columns.combination import WhereRaw
from piccolo.engine.postgres import PostgresEngine

from connectors.errors import RateLimited
from jobqueue.jobs import JobContext, JobHandler, PermanentJobError, RetryLater, wait_is_over, waited
from jobqueue.tables import Job, JobStatus
from jobqueue.tracing import context_of
from lib import metrics
from lib.clock import utcnow
from lib.db import write_transaction

log = structlog.get_logger("funnelsync.jobs")

# A job waits while an older job with its ordering key is still to run.
_NOT_BLOCKED_BY_AN_OLDER_JOB = WhereRaw(
    "NOT EXISTS (SELECT 1 FROM job AS earlier WHERE job.ordering_key IS NOT NULL"
    " AND earlier.ordering_key = job.ordering_key AND earlier.id < job.id"
    " AND earlier.status IN ({}, {}))",
    JobStatus.QUEUED.value,
    JobStatus.RUNNING.value,
)


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
    async with write_transaction(Job._meta.db):
        query = (
            Job.select(Job.id)
            .where(
                ((Job.status == JobStatus.QUEUED) & (Job.run_at <= now))
                | ((Job.status == JobStatus.RUNNING) & (Job.locked_until < now)),
                _NOT_BLOCKED_BY_AN_OLDER_JOB,
            )
            .order_by(Job.run_at, Job.id)
            .limit(1)
        )
        if isinstance(Job._meta.db, PostgresEngine):
            query = query.lock_rows("UPDATE", skip_locked=True, of=(Job,))
        candidate = await query.first()
        if candidate is None:
            return None
        rows = (
            await Job.update(
                {
                    Job.status: JobStatus.RUNNING,
                    Job.locked_by: worker_id,
                    Job.locked_until: now + timedelta(seconds=lease_seconds),
                    Job.attempts: Job.attempts + 1,
                }
            )
            .where(Job.id == candidate["id"])
            .returning(
                Job.id,
                Job.kind,
                Job.payload,
                Job.shop_domain,
                Job.attempts,
                Job.max_attempts,
                Job.waiting_since,
                Job.trace_context,
            )
        )
    row = rows[0]
    payload = row["payload"]  # UPDATE ... RETURNING gives JSON back as text
    if isinstance(payload, str):
        payload = json.loads(payload)
    waiting_since = row["waiting_since"]
    if isinstance(waiting_since, str):  # SQLite's RETURNING gives timestamps back as text
        waiting_since = datetime.fromisoformat(waiting_since)
    return JobContext(
        row["id"],
        row["kind"],
        payload,
        row["shop_domain"],
        row["attempts"],
        row["max_attempts"],
        waiting_since,
        row["trace_context"],
    )


async def _finish(job: JobContext, worker_id: str, values: dict[Any, Any]) -> None:
    # Only the lease holder may record the outcome: a worker whose lease expired and was
    # taken over must not overwrite the new holder's state.
    await Job.update(values).where((Job.id == job.id) & (Job.locked_by == worker_id))


async def _heartbeat(job: JobContext, worker_id: str, lease_seconds: float) -> None:
    while True:
        await asyncio.sleep(lease_seconds / 3)
        await Job.update({Job.locked_until: utcnow() + timedelta(seconds=lease_seconds)}).where(
            (Job.id == job.id) & (Job.locked_by == worker_id) & (Job.status == JobStatus.RUNNING)
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
        tracer: Tracer | None = None,
    ) -> None:
        self.handlers = dict(handlers)
        self.worker_id = worker_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.lease_seconds = lease_seconds
        self.poll_interval_seconds = poll_interval_seconds
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._wake = asyncio.Event()
        # Given only when tracing is on (onboarding/tracing.py): a span per job run.
        self.tracer = tracer

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
        if self.tracer is None:
            await self._run_job(job)
            return
        # A child of what queued the job (its intake's span, say), in the same trace.
        with self.tracer.start_as_current_span(
            f"job {job.kind}",
            context=context_of(job.trace_context),
            kind=SpanKind.CONSUMER,
            attributes={
                "funnelsync.job.id": job.id,
                "funnelsync.job.kind": job.kind,
                "funnelsync.job.attempt": job.attempt,
            },
        ):
            await self._run_job(job)

    async def _run_job(self, job: JobContext) -> None:
        handler = self.handlers.get(job.kind)
        bound = log.bind(job_id=job.id, kind=job.kind, attempt=job.attempt, shop=job.shop_domain)
        if handler is None:
            metrics.job_failures.labels(job.kind).inc()
            await self._dead(job, f"no handler for job kind {job.kind!r}")
            bound.error("job_dead", reason="unknown kind")
            return
        heartbeat = asyncio.create_task(_heartbeat(job, self.worker_id, self.lease_seconds))
        try:
            await handler(job)
        except RetryLater as wait:
            await self._wait(job, wait, bound)
        except RateLimited as wait:
            # Being asked to slow down is not a failure of the work: no attempt is used up.
            await self._requeue(job, wait.retry_after_seconds, str(wait), count_attempt=False)
            bound.info("job_deferred", delay_seconds=wait.retry_after_seconds, reason=str(wait))
        except PermanentJobError as exc:
            metrics.job_failures.labels(job.kind).inc()
            await self._dead(job, str(exc))
            bound.error("job_dead", reason=str(exc))
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            metrics.job_failures.labels(job.kind).inc()
            trace.get_current_span().record_exception(exc)
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
                    Job.status: JobStatus.DONE,
                    Job.finished_at: utcnow(),
                    Job.locked_by: None,
                    Job.locked_until: None,
                    Job.waiting_since: None,
                },
            )
            bound.info("job_done")
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _wait(self, job: JobContext, wait: RetryLater, bound: Any) -> None:
        """Not a failure of the work, so no attempt is used up; a wait with a deadline that is
        over becomes a dead letter saying what the job waited for (replayable)."""
        now = utcnow()
        if wait.wait_at_most is not None and wait_is_over(job.waiting_since, wait.wait_at_most, now):
            reason = f"Gave up after waiting {waited(wait.wait_at_most)}: {wait}"
            await self._dead(job, reason)
            bound.error("job_dead", reason=reason)
            return
        since = (job.waiting_since or now) if wait.wait_at_most is not None else None
        await self._requeue(job, wait.delay_seconds, str(wait), count_attempt=False, waiting_since=since)
        bound.info("job_deferred", delay_seconds=wait.delay_seconds, reason=str(wait))

    async def _requeue(
        self,
        job: JobContext,
        delay: float,
        reason: str,
        *,
        count_attempt: bool,
        waiting_since: datetime | None = None,
    ) -> None:
        values: dict[Any, Any] = {
            Job.status: JobStatus.QUEUED,
            Job.run_at: utcnow() + timedelta(seconds=delay),
            Job.locked_by: None,
            Job.locked_until: None,
            Job.last_error: reason,
        }
        if not count_attempt:
            values[Job.attempts] = Job.attempts - 1
        if waiting_since is not None:
            values[Job.waiting_since] = waiting_since
        await _finish(job, self.worker_id, values)

    async def _dead(self, job: JobContext, reason: str) -> None:
        metrics.dead_letters_made.labels(job.kind).inc()
        await _finish(
            job,
            self.worker_id,
            {
                Job.status: JobStatus.DEAD,
                Job.last_error: reason,
                Job.finished_at: utcnow(),
                Job.locked_by: None,
                Job.locked_until: None,
            },
        )
