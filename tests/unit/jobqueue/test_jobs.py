"""How long a job waiting for something else has waited, and how the reasons people read say it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobqueue.jobs import wait_is_over, waited

HOUR = timedelta(hours=1)
START = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)


def test_a_wait_is_over_once_it_has_lasted_its_deadline() -> None:
    assert not wait_is_over(START, HOUR, START + HOUR - timedelta(seconds=1))
    assert wait_is_over(START, HOUR, START + HOUR)


def test_a_job_not_waiting_yet_has_a_whole_wait_ahead() -> None:
    assert not wait_is_over(None, HOUR, START + 10 * HOUR)


def test_a_wait_is_said_in_hours_or_minutes() -> None:
    assert waited(HOUR) == "1 hour"
    assert waited(2 * HOUR) == "2 hours"
    assert waited(timedelta(minutes=90)) == "90 minutes"
    assert waited(timedelta(minutes=1)) == "1 minute"
