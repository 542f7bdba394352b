"""Tables of the job queue: durable jobs and the webhook inbox."""

from piccolo.columns import JSON, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Job(Table):
    """One unit of background work; the table is the record, whatever dispatches it."""

    id: Serial  # added by Piccolo; declared for the type checker
    kind = Varchar(length=64, null=False)
    payload = JSON(null=False)
    shop_domain = Varchar(length=255, null=True, index=True)
    # Jobs sharing an ordering key run one at a time, oldest first (per-entity order).
    ordering_key = Varchar(length=255, null=True, index=True)
    status = Varchar(length=16, null=False, default="queued", index=True)
    attempts = Integer(null=False, default=0)
    max_attempts = Integer(null=False, default=8)
    run_at = Timestamptz(null=False, default=TimestamptzNow(), index=True)
    locked_by = Varchar(length=64, null=True)
    locked_until = Timestamptz(null=True, default=None)
    last_error = Text(null=True)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)


class InboxEvent(Table):
    """A webhook as received: stored once per delivery, processed by the worker."""

    id: Serial  # added by Piccolo; declared for the type checker
    source = Varchar(length=16, null=False)  # shopify, crm, stripe
    # "{source}:{delivery id}": a duplicate delivery hits this unique key and vanishes.
    delivery_key = Varchar(length=200, unique=True, null=False)
    topic = Varchar(length=100, null=False)
    shop_domain = Varchar(length=255, null=True, index=True)
    # The resource the event is about (a customer id for customers/*), for redaction.
    entity_id = Varchar(length=100, null=True, index=True)
    payload = JSON(null=False)
    status = Varchar(length=16, null=False, default="received")  # received, processed, ignored
    received_at = Timestamptz(null=False, default=TimestamptzNow())
    processed_at = Timestamptz(null=True, default=None)


TABLES: list[type[Table]] = [Job, InboxEvent]
