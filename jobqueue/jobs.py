"""Durable jobs in the app's database: enqueued in the caller's transaction, run by the worker.

Jobs sharing an ordering key run one at a time in creation order, so two changes of one
entity are applied in order (see worker.py for leasing, retries and dead letters).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from piccolo.query.functions.aggregate import Count, Min

from jobqueue.tables import Job, JobStatus
from jobqueue.tracing import current_trace_context
from lib.clock import utcnow

log = structlog.get_logger("funnelsync.jobs")


class RetryLater(Exception):
    """The work could not run now for a reason that is not a failure (e.g. throttling).

    With `wait_at_most` the job waits for something else to happen first (an order to reach
    the CRM): it waits that long at most, counted from its first wait, then becomes a dead
    letter naming what it waited for. Without it the wait has no end (throttling, a plan's
    monthly limit): those end by themselves.
    """

    def __init__(self, delay_seconds: float, reason: str, *, wait_at_most: timedelta | None = None) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds
        self.wait_at_most = wait_at_most


def wait_is_over(waiting_since: datetime | None, wait_at_most: timedelta, now: datetime) -> bool:
    """True when a job waiting since `waiting_since` (None: not waiting yet) has waited long enough."""
    return waiting_since is not None and now - waiting_since >= wait_at_most


def waited(wait_at_most: timedelta) -> str:
    """ "1 hour", "90 minutes": how long a wait lasted, for the reasons people read."""
    minutes = round(wait_at_most.total_seconds() / 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


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
    # Since when it has been waiting for something else (RetryLater with a deadline), if it is.
    waiting_since: datetime | None = None
    # The trace context of what queued it (jobqueue/tracing.py), when that was traced.
    trace_context: str | None = None

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
        status=JobStatus.QUEUED,
        run_at=run_at or utcnow(),
        max_attempts=max_attempts,
        trace_context=current_trace_context(),
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


async def schedule_once(kind: str, shop_domain: str | None, *, delay: timedelta = timedelta(0)) -> None:
    """A recurring job queued at most once per shop (or once in all, without a shop): asking
    again moves it earlier, never adds one."""
    run_at = utcnow() + delay
    of_shop = Job.shop_domain.is_null() if shop_domain is None else Job.shop_domain == shop_domain
    queued = (
        await Job.select(Job.id, Job.run_at)
        .where((Job.kind == kind) & of_shop & (Job.status == JobStatus.QUEUED))
        .first()
    )
    if queued is None:
        key = f"{kind}:{shop_domain}" if shop_domain is not None else kind
        await enqueue(kind, {}, shop_domain=shop_domain, ordering_key=key, run_at=run_at)
    elif queued["run_at"] > run_at:
        await Job.update({Job.run_at: run_at}).where(Job.id == queued["id"])


async def dead_letters(limit: int = 100) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await Job.select(Job.id, Job.kind, Job.shop_domain, Job.attempts, Job.last_error, Job.finished_at)
        .where(Job.status == JobStatus.DEAD)
        .order_by(Job.finished_at, ascending=False)
        .limit(limit)
    )
    return rows


async def replay_dead_letter(job_id: int) -> bool:
    rows = (
        await Job.update(
            {
                Job.status: JobStatus.QUEUED,
                Job.attempts: 0,
                Job.run_at: utcnow(),
                Job.finished_at: None,
                Job.waiting_since: None,  # a replay waits its whole time again
            }
        )
        .where((Job.id == job_id) & (Job.status == JobStatus.DEAD))
        .returning(Job.id)
    )
    return bool(rows)


async def cancel_jobs_of_shop(shop_domain: str) -> int:
    rows = (
        await Job.update({Job.status: JobStatus.CANCELLED, Job.finished_at: utcnow()})
        .where((Job.shop_domain == shop_domain) & (Job.status == JobStatus.QUEUED))
        .returning(Job.id)
    )
    return len(rows)


@dataclass(frozen=True)
class KindFigures:
    due: int  # queued and due to run now
    oldest_due_seconds: float  # how long the longest-waiting of them has been due
    dead: int  # dead letters still there


async def queue_figures(now: datetime) -> dict[str, KindFigures]:
    """Per job kind, what is due and what is dead, read for a metrics scrape: two grouped
    counts over the status index, so as cheap with a million done jobs as with none."""
    due_rows = (
        await Job.select(Job.kind, Count(alias="jobs"), Min(Job.run_at, alias="oldest"))
        .where((Job.status == JobStatus.QUEUED) & (Job.run_at <= now))
        .group_by(Job.kind)
    )
    dead_rows = (
        await Job.select(Job.kind, Count(alias="jobs")).where(Job.status == JobStatus.DEAD).group_by(Job.kind)
    )
    figures: dict[str, KindFigures] = {}
    for row in due_rows:
        oldest = row["oldest"]
        if isinstance(oldest, str):  # SQLite gives an aggregate's timestamp back as text
            oldest = datetime.fromisoformat(oldest)
        figures[row["kind"]] = KindFigures(row["jobs"], max(0.0, (now - oldest).total_seconds()), 0)
    for row in dead_rows:
        due = figures.get(row["kind"], KindFigures(0, 0.0, 0))
        figures[row["kind"]] = KindFigures(due.due, due.oldest_due_seconds, row["jobs"])
    return figures
