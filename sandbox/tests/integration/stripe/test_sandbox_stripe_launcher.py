"""The launcher knows the Stripe sandbox: `--stripe PORT`, `build_sandbox("stripe", ...)`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from sandbox.launcher import SANDBOXES, SandboxOptions, build_sandbox
from sandbox.stripe import stripe_sandbox_of

# The directory that holds the sandbox package: `python -m sandbox.launcher` runs from there.
PROJECT_DIR = Path(__file__).resolve().parents[4]


def test_build_sandbox_wires_public_url_webhook_endpoint_and_state_file(tmp_path: Path) -> None:
    assert "stripe" in SANDBOXES
    options = SandboxOptions(
        public_url="http://127.0.0.1:9", app_url="http://127.0.0.1:8000/", state_dir=tmp_path
    )
    sandbox = stripe_sandbox_of(build_sandbox("stripe", options))
    assert sandbox.config.public_url == "http://127.0.0.1:9"
    assert sandbox.config.state_file == tmp_path / "stripe.json"
    endpoints = list(sandbox.state.webhook_endpoints.values())
    assert [e["url"] for e in endpoints] == ["http://127.0.0.1:8000/webhooks/stripe"]
    assert endpoints[0]["secret"].startswith("whsec_")


async def test_launcher_serves_stripe_and_keeps_its_state(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.launcher",
        "--stripe",
        "0",
        "--state-dir",
        str(tmp_path),
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode().strip()
        assert line.startswith("stripe sandbox: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1]
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok", "service": "stripe"}
            created = await client.post(
                "/v1/products", data={"name": "Pro"}, headers={"Authorization": "Bearer sk_test_sandbox"}
            )
            assert created.status_code == 200, created.text
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
        assert created.json()["id"] in (tmp_path / "stripe.json").read_text()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
