"""The job queue's enums on real databases built from the migrations: stored as their values."""

from __future__ import annotations

import uuid
from enum import StrEnum

import pytest

from jobqueue.tables import InboxEvent, InboxStatus, Job, JobStatus, WebhookSource
from tests.support.enum_storage import assert_database_default, assert_stored_as_values

pytestmark = pytest.mark.postgres


async def _job(status: StrEnum) -> int:
    rows = await Job.insert(Job(kind="noop", payload={}, status=status)).returning(Job.id)
    return int(rows[0]["id"])


async def _event(source: StrEnum = WebhookSource.SHOPIFY, status: StrEnum = InboxStatus.RECEIVED) -> int:
    event = InboxEvent(
        source=source,
        delivery_key=f"{source}:{uuid.uuid4()}",
        topic="orders/create",
        payload={},
        status=status,
    )
    rows = await InboxEvent.insert(event).returning(InboxEvent.id)
    return int(rows[0]["id"])


async def test_job_statuses_are_stored_as_their_values(database: None) -> None:
    await assert_stored_as_values(Job.status, _job)
    await assert_database_default(Job.status, JobStatus.QUEUED)


async def test_inbox_sources_and_statuses_are_stored_as_their_values(database: None) -> None:
    await assert_stored_as_values(InboxEvent.source, lambda source: _event(source=source))
    await assert_stored_as_values(InboxEvent.status, lambda status: _event(status=status))
    await assert_database_default(InboxEvent.status, InboxStatus.RECEIVED)
