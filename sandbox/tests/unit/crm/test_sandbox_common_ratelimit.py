"""The per-client sliding window limiter, on a manual clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sandbox.common.clock import ManualClock
from sandbox.common.ratelimit import RateLimit, SlidingWindowLimiter


def test_allows_the_limit_then_says_how_long_to_wait() -> None:
    clock = ManualClock(1000.0)
    limiter = SlidingWindowLimiter(RateLimit(requests=2, per_seconds=10), clock)
    assert limiter.hit("a") is None
    clock.advance(4)
    assert limiter.hit("a") is None
    assert limiter.hit("a") == 6  # the first hit leaves the window 10 s after it came
    clock.advance(6)
    assert limiter.hit("a") is None


def test_clients_are_limited_separately() -> None:
    limiter = SlidingWindowLimiter(RateLimit(requests=1, per_seconds=60), ManualClock(0.0))
    assert limiter.hit("a") is None
    assert limiter.hit("b") is None
    assert limiter.hit("a") == 60


def test_retry_after_is_at_least_one_second() -> None:
    clock = ManualClock(0.0)
    limiter = SlidingWindowLimiter(RateLimit(requests=1, per_seconds=1), clock)
    limiter.hit("a")
    clock.advance(0.99)
    assert limiter.hit("a") == 1


def test_reset_forgets_every_client() -> None:
    limiter = SlidingWindowLimiter(RateLimit(requests=1, per_seconds=60), ManualClock(0.0))
    limiter.hit("a")
    limiter.reset()
    assert limiter.hit("a") is None


@given(
    limit=st.integers(min_value=1, max_value=5),
    window=st.integers(min_value=1, max_value=30),
    gaps=st.lists(st.floats(min_value=0, max_value=20, allow_nan=False), max_size=60),
)
def test_never_more_than_the_limit_in_any_window(limit: int, window: int, gaps: list[float]) -> None:
    clock = ManualClock(0.0)
    limiter = SlidingWindowLimiter(RateLimit(requests=limit, per_seconds=window), clock)
    allowed: list[float] = []
    for gap in gaps:
        clock.advance(gap)
        wait = limiter.hit("client")
        if wait is None:
            allowed.append(clock())
        else:
            assert wait >= 1
    for i, start in enumerate(allowed):
        in_window = [t for t in allowed[i:] if t < start + window]
        assert len(in_window) <= limit
