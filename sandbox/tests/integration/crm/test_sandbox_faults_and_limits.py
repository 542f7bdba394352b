"""Fault injection, per-client rate limits and write counters, on both sandboxes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from sandbox.common.ratelimit import RateLimit
from sandbox.tests.integration.crm.sandbox_crm_support import Harness, bearer, running_crm, running_templates

Runner = Callable[..., AbstractAsyncContextManager[Harness]]


@pytest.fixture(params=[running_crm, running_templates], ids=["crm", "templates"])
def runner(request: pytest.FixtureRequest) -> Runner:
    run: Runner = request.param
    return run


@pytest.fixture
async def sandbox(runner: Runner) -> AsyncIterator[Harness]:
    async with runner() as harness:
        yield harness


async def add_fault(harness: Harness, **body: Any) -> dict[str, Any]:
    response = await harness.http.post("/_sandbox/faults", json=body)
    assert response.status_code == 201, response.text
    fault: dict[str, Any] = response.json()
    return fault


async def list_status(harness: Harness, token: str) -> int:
    response = await harness.http.get(f"/api/v1/{harness.resource}", headers=bearer(token))
    return response.status_code


async def test_http_500_fault_hits_the_next_n_requests_then_stops(sandbox: Harness) -> None:
    token = await sandbox.app_token()
    await add_fault(sandbox, kind="http_500", count=2)
    first = await sandbox.http.get(f"/api/v1/{sandbox.resource}", headers=bearer(token))
    assert first.status_code == 500
    assert first.json()["error"] == "internal_server_error"
    assert first.json()["request_id"].startswith("req_")
    assert await list_status(sandbox, token) == 500
    assert await list_status(sandbox, token) == 200


async def test_failed_writes_are_counted_and_create_nothing(sandbox: Harness) -> None:
    token = await sandbox.app_token()
    await add_fault(sandbox, kind="http_500", count=1, path_prefix=f"/api/v1/{sandbox.resource}")
    assert (await sandbox.create_member(token)).status_code == 500
    assert (await sandbox.create_member(token)).status_code == 201
    counters = (await sandbox.control("GET", "counters"))["writes"]
    assert counters[f"POST /api/v1/{sandbox.resource}"]["responses"] == {"201": 1, "500": 1}
    assert len((await sandbox.control("GET", sandbox.resource))["data"]) == 1


async def test_fault_only_hits_its_path_prefix(sandbox: Harness) -> None:
    token = await sandbox.app_token()
    await add_fault(sandbox, kind="http_500", count=1, path_prefix="/oauth/")
    assert await list_status(sandbox, token) == 200
    response = await sandbox.post_token({"grant_type": "client_credentials"})
    assert response.status_code == 500


async def test_rate_limit_fault_answers_429_with_integer_retry_after(sandbox: Harness) -> None:
    token = await sandbox.app_token()
    await add_fault(sandbox, kind="rate_limit", count=1, seconds=2.5)
    response = await sandbox.http.get(f"/api/v1/{sandbox.resource}", headers=bearer(token))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["error"] == "rate_limited"
    assert await list_status(sandbox, token) == 200


async def test_timeout_fault_stalls_then_answers_normally(sandbox: Harness) -> None:
    token = await sandbox.app_token()
    await add_fault(sandbox, kind="timeout", count=1, seconds=7)
    assert (await sandbox.create_member(token)).status_code == 201
    assert sandbox.sleeps.calls == [7.0]
    assert await list_status(sandbox, token) == 200
    assert sandbox.sleeps.calls == [7.0]


async def test_control_api_and_health_are_never_faulted(sandbox: Harness) -> None:
    await add_fault(sandbox, kind="http_500", count=5, path_prefix="/")
    assert (await sandbox.http.get("/healthz")).status_code == 200
    assert len((await sandbox.control("GET", "faults"))["data"]) == 1
    assert (await sandbox.control("DELETE", "faults"))["cleared"] == 1
    assert (await sandbox.http.get("/")).status_code == 200


async def test_bad_fault_requests_are_400(sandbox: Harness) -> None:
    for body in ({"kind": "meteor"}, {"kind": "http_500", "count": 0}, {"kind": "timeout", "seconds": -1}):
        response = await sandbox.http.post("/_sandbox/faults", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"] == "bad_request"


async def test_reset_clears_members_tokens_faults_and_counters(sandbox: Harness) -> None:
    token = await sandbox.app_token()
    await sandbox.create_member(token)
    await add_fault(sandbox, kind="http_500", count=3)
    assert (await sandbox.control("POST", "reset")) == {"status": "reset"}
    assert (await sandbox.control("GET", sandbox.resource))["data"] == []
    assert (await sandbox.control("GET", "faults"))["data"] == []
    assert (await sandbox.control("GET", "counters"))["writes"] == {}
    assert await list_status(sandbox, token) == 401


async def test_per_client_rate_limit_answers_429_until_the_window_passes(runner: Runner) -> None:
    async with runner(rate_limit=RateLimit(requests=3, per_seconds=60)) as sandbox:
        token = await sandbox.app_token()  # request 1
        assert await list_status(sandbox, token) == 200  # 2
        assert await list_status(sandbox, token) == 200  # 3
        response = await sandbox.http.get(f"/api/v1/{sandbox.resource}", headers=bearer(token))
        assert response.status_code == 429
        assert response.json()["error"] == "rate_limited"
        assert int(response.headers["retry-after"]) == 60
        sandbox.clock.advance(30)
        retry = await sandbox.http.get(f"/api/v1/{sandbox.resource}", headers=bearer(token))
        assert int(retry.headers["retry-after"]) == 30
        sandbox.clock.advance(30)
        assert await list_status(sandbox, token) == 200


async def test_token_endpoint_counts_against_the_client_limit(runner: Runner) -> None:
    async with runner(rate_limit=RateLimit(requests=1, per_seconds=10)) as sandbox:
        assert (await sandbox.post_token({"grant_type": "client_credentials"})).status_code == 200
        limited = await sandbox.post_token({"grant_type": "client_credentials"})
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "10"
