"""The launcher serves sandboxes on 127.0.0.1, announces their URLs and stops on a signal."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from sandbox.launcher import SANDBOXES, SandboxOptions, build_sandbox, parse_args

PROJECT_DIR = Path(__file__).resolve().parents[3]


def test_build_sandbox_makes_the_named_app() -> None:
    app = build_sandbox("shopify", SandboxOptions(public_url="http://127.0.0.1:9"))
    assert isinstance(app, Litestar)


def test_build_sandbox_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown sandbox"):
        build_sandbox("nope", SandboxOptions(public_url="http://127.0.0.1:9"))


def test_every_registered_sandbox_gets_a_port_flag() -> None:
    args = parse_args([f"--{name}=0" for name in SANDBOXES])
    assert all(getattr(args, name) == 0 for name in SANDBOXES)


def test_at_least_one_sandbox_is_required() -> None:
    with pytest.raises(SystemExit):
        parse_args([])


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
async def test_launcher_serves_and_stops_cleanly(tmp_path: Path, stop_signal: signal.Signals) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.launcher",
        "--shopify",
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
        assert line.startswith("shopify sandbox: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1]
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            shops = (await client.get("/_sandbox/shops")).json()
            assert shops[0]["baseUrl"].startswith(url)
        process.send_signal(stop_signal)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
        assert (tmp_path / "shopify.json").exists()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
