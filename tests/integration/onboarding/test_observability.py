"""Request ids kept when sane and replaced otherwise; one JSON access line per request, no query string."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from onboarding.app import create_app
from onboarding.settings import Settings
from tests.support.app import asgi_client, lifespan_of


async def test_request_id_is_kept_when_sane_and_replaced_otherwise(
    client: httpx.AsyncClient,
) -> None:
    kept = await client.get("/healthz", headers={"x-request-id": "abc-123-def-456"})
    assert kept.headers["x-request-id"] == "abc-123-def-456"
    replaced = await client.get("/healthz", headers={"x-request-id": "bad id\r\nwith junk"})
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"])


async def test_access_log_is_json_with_request_id_and_no_query_string(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings)  # logging goes to the stdout this test captures
    async with lifespan_of(app), asgi_client(app) as client:
        response = await client.get("/?code=one-time-secret&hmac=abc")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    request_lines = [line for line in lines if line.get("event") == "request"]
    assert request_lines, "no access log line was written"
    last = request_lines[-1]
    assert last["request_id"] == response.headers["x-request-id"]
    assert last["path"] == "/"
    assert last["status"] == 200
    assert "one-time-secret" not in json.dumps(lines)
