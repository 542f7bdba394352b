"""The sign-in throttle's delays: free tries, then waits that double up to a cap, and the
account's delay growing slower and staying shorter than the source's (see iam.admin)."""

from __future__ import annotations

from datetime import timedelta

from iam.admin import ACCOUNT_THROTTLE, SOURCE_THROTTLE, Throttle


def test_waits_start_after_the_free_failures_double_and_stop_at_the_cap() -> None:
    throttle = Throttle(prefix="x:", free=3, base=2, cap=timedelta(seconds=10))
    waits = [throttle.wait(failures).total_seconds() for failures in range(1, 9)]
    assert waits == [0, 0, 1, 2, 4, 8, 10, 10]


def test_the_account_delay_grows_slower_and_stays_short_so_it_is_no_lock() -> None:
    for k in range(40):  # the k-th wait of each, counted from its first
        assert ACCOUNT_THROTTLE.wait(ACCOUNT_THROTTLE.free + k) <= SOURCE_THROTTLE.wait(
            SOURCE_THROTTLE.free + k
        )
    assert ACCOUNT_THROTTLE.wait(1000) <= timedelta(minutes=1)
    assert SOURCE_THROTTLE.wait(1000) > ACCOUNT_THROTTLE.wait(1000)
    growth = [ACCOUNT_THROTTLE.wait(ACCOUNT_THROTTLE.free + k) for k in range(3)]
    assert growth == [timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=4)]
