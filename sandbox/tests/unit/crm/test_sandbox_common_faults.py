"""The fault registry and write counters behind the `/_sandbox/faults` control API."""

from __future__ import annotations

from sandbox.common.faults import FaultKind, FaultRegistry, WriteCounters


def test_fault_is_used_up_after_count_requests() -> None:
    faults = FaultRegistry()
    faults.add(FaultKind.HTTP_500, path_prefix="/api/", count=2, seconds=0)
    assert faults.take("/api/v1/users") is not None
    assert faults.take("/api/v1/users") is not None
    assert faults.take("/api/v1/users") is None
    assert faults.active() == []


def test_oldest_matching_fault_goes_first_and_prefixes_filter() -> None:
    faults = FaultRegistry()
    faults.add(FaultKind.TIMEOUT, path_prefix="/oauth/", count=1, seconds=3)
    faults.add(FaultKind.RATE_LIMIT, path_prefix="/api/", count=1, seconds=1)
    faults.add(FaultKind.HTTP_500, path_prefix="/", count=1, seconds=0)
    first = faults.take("/api/v1/users")
    assert first is not None
    assert first.kind is FaultKind.RATE_LIMIT
    second = faults.take("/api/v1/users")
    assert second is not None
    assert second.kind is FaultKind.HTTP_500
    assert faults.take("/api/v1/users") is None
    assert len(faults.active()) == 1


def test_control_api_and_health_are_never_faulted() -> None:
    faults = FaultRegistry()
    faults.add(FaultKind.HTTP_500, path_prefix="/", count=10, seconds=0)
    assert faults.take("/_sandbox/faults") is None
    assert faults.take("/healthz") is None
    assert faults.take("/login/abc") is not None


def test_clear_reports_how_many_were_active() -> None:
    faults = FaultRegistry()
    faults.add(FaultKind.HTTP_500, path_prefix="/", count=1, seconds=0)
    faults.add(FaultKind.HTTP_500, path_prefix="/", count=1, seconds=0)
    assert faults.clear() == 2
    assert faults.clear() == 0


def test_counters_group_by_endpoint_and_status() -> None:
    counters = WriteCounters()
    counters.record("POST /api/v1/users", 201)
    counters.record("POST /api/v1/users", 409)
    counters.record("POST /api/v1/users", 409)
    assert counters.as_json() == {"POST /api/v1/users": {"requests": 3, "responses": {"201": 1, "409": 2}}}
    counters.reset()
    assert counters.as_json() == {}
