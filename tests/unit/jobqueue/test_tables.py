"""The job queue's enums are the strings its tables hold.

Piccolo stores a member's value and reads back the plain string, so these values are what
the rows hold: renaming one would orphan the rows that hold the old string.
"""

from __future__ import annotations

from enum import StrEnum

import pytest
from piccolo.columns import Column

from jobqueue.tables import InboxEvent, InboxStatus, Job, JobStatus, WebhookSource
from tests.support.enum_columns import assert_choices_hold

# Each column, the enum it declares (choices=), and the strings its rows hold.
STORED: list[tuple[Column, type[StrEnum], list[str]]] = [
    (Job.status, JobStatus, ["queued", "running", "done", "dead", "cancelled"]),
    (InboxEvent.source, WebhookSource, ["shopify", "crm", "stripe"]),
    (InboxEvent.status, InboxStatus, ["received", "processed", "ignored"]),
]


@pytest.mark.parametrize(
    ("column", "enum", "values"), STORED, ids=["Job.status", "InboxEvent.source", "InboxEvent.status"]
)
def test_the_column_s_choices_are_the_strings_its_rows_hold(
    column: Column, enum: type[StrEnum], values: list[str]
) -> None:
    assert_choices_hold(column, enum, values)


def test_defaults_are_members() -> None:
    assert Job.status.default is JobStatus.QUEUED
    assert InboxEvent.status.default is InboxStatus.RECEIVED
