"""Tables of the job queue: durable jobs and the webhook inbox."""

from enum import StrEnum

from piccolo.columns import JSON, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class JobStatus(StrEnum):
    """Where a job is in its life. The values are what the table holds (the worker's raw SQL
    names QUEUED and RUNNING too)."""

    QUEUED = "queued"
    RUNNING = "running"  # leased by a worker until locked_until
    DONE = "done"
    DEAD = "dead"  # out of attempts, or failed for good: a dead letter, replayable
    CANCELLED = "cancelled"  # its shop went before it ran


class Job(Table):
    """One unit of background work; the table is the record, whatever dispatches it."""

    id: Serial  # added by Piccolo; declared for the type checker
    kind = Varchar(length=64, null=False)
    payload = JSON(null=False)
    shop_domain = Varchar(length=255, null=True, index=True)
    # Jobs sharing an ordering key run one at a time, oldest first (per-entity order).
    ordering_key = Varchar(length=255, null=True, index=True)
    status = Varchar(length=16, null=False, default=JobStatus.QUEUED, index=True, choices=JobStatus)
    attempts = Integer(null=False, default=0)
    max_attempts = Integer(null=False, default=8)
    run_at = Timestamptz(null=False, default=TimestamptzNow(), index=True)
    locked_by = Varchar(length=64, null=True)
    locked_until = Timestamptz(null=True, default=None)
    last_error = Text(null=True)
    # Since when the job has been waiting for something else to happen first (RetryLater with a
    # deadline); cleared when it runs through. A wait past its deadline is a dead letter.
    waiting_since = Timestamptz(null=True, default=None)
    # The W3C trace context (JSON of traceparent/tracestate) of what queued the job, when traced
    # (jobqueue/tracing.py): the job's span continues that trace.
    trace_context = Text(null=True, default=None)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)


class WebhookSource(StrEnum):
    """Who sent a webhook: each has its own endpoint and signature."""

    SHOPIFY = "shopify"
    CRM = "crm"
    STRIPE = "stripe"


class InboxStatus(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"  # no handler for its topic


class InboxEvent(Table):
    """A webhook as received: stored once per delivery, processed by the worker."""

    id: Serial  # added by Piccolo; declared for the type checker
    source = Varchar(length=16, null=False, choices=WebhookSource)
    # "{source}:{delivery id}": a duplicate delivery hits this unique key and vanishes.
    delivery_key = Varchar(length=200, unique=True, null=False)
    topic = Varchar(length=100, null=False)
    shop_domain = Varchar(length=255, null=True, index=True)
    # The resource the event is about (a customer id for customers/*), for redaction.
    entity_id = Varchar(length=100, null=True, index=True)
    payload = JSON(null=False)
    status = Varchar(length=16, null=False, default=InboxStatus.RECEIVED, choices=InboxStatus)
    received_at = Timestamptz(null=False, default=TimestamptzNow())
    processed_at = Timestamptz(null=True, default=None)


TABLES: list[type[Table]] = [Job, InboxEvent]
