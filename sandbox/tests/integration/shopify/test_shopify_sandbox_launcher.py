"""The launcher serves the Shopify, CRM and template-service sandboxes on 127.0.0.1,
announces their URLs and stops on a signal."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from sandbox.crm import crm_sandbox_of
from sandbox.launcher import SANDBOXES, SandboxOptions, build_sandbox, parse_args
from sandbox.shopify.app import sandbox_of as shopify_sandbox_of
from sandbox.templates_service import templates_sandbox_of

# The directory that holds the sandbox package: `python -m sandbox.launcher` runs from there.
PROJECT_DIR = Path(__file__).resolve().parents[4]


def test_build_sandbox_makes_the_named_app() -> None:
    app = build_sandbox("shopify", SandboxOptions(public_url="http://127.0.0.1:9"))
    assert isinstance(app, Litestar)


def test_the_shopify_application_url_reaches_the_store_admin() -> None:
    args = parse_args(["--shopify=0", "--shopify-application-url", "http://127.0.0.1:8000/app"])
    assert args.shopify_application_url == "http://127.0.0.1:8000/app"
    options = SandboxOptions(
        public_url="http://127.0.0.1:9", shopify_application_url=args.shopify_application_url
    )
    assert (
        shopify_sandbox_of(build_sandbox("shopify", options)).config.app_home_url
        == "http://127.0.0.1:8000/app"
    )
    default = shopify_sandbox_of(build_sandbox("shopify", SandboxOptions(public_url="http://127.0.0.1:9")))
    assert default.config.app_home_url == "http://127.0.0.1:8000/"


def test_the_apps_app_specific_topics_reach_the_shopify_sandbox() -> None:
    args = parse_args(
        [
            "--shopify=0",
            "--shopify-app-webhook-topic",
            "orders/create",
            "--shopify-app-webhook-topic",
            "app/uninstalled",
        ]
    )
    options = SandboxOptions(
        public_url="http://127.0.0.1:9", shopify_app_webhook_topics=tuple(args.shopify_app_webhook_topic)
    )
    config = shopify_sandbox_of(build_sandbox("shopify", options)).config
    assert config.app_webhook_topics == ("orders/create", "app/uninstalled")


def test_build_sandbox_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown sandbox"):
        build_sandbox("nope", SandboxOptions(public_url="http://127.0.0.1:9"))


def test_every_registered_sandbox_gets_a_port_flag() -> None:
    args = parse_args([f"--{name}=0" for name in SANDBOXES])
    assert all(getattr(args, name) == 0 for name in SANDBOXES)


def test_at_least_one_sandbox_is_required() -> None:
    with pytest.raises(SystemExit):
        parse_args([])


def test_crm_and_templates_are_registered_with_the_apps_jwks_url() -> None:
    options = SandboxOptions(public_url="http://127.0.0.1:9", app_url="http://127.0.0.1:8000/")
    assert list(SANDBOXES) == ["shopify", "crm", "templates", "stripe", "mail"]
    assert options.app_jwks_url == "http://127.0.0.1:8000/.well-known/jwks.json"
    crm = crm_sandbox_of(build_sandbox("crm", options))
    templates = templates_sandbox_of(build_sandbox("templates", options))
    for sandbox in (crm, templates):
        assert sandbox.config.public_url == "http://127.0.0.1:9"
        assert sandbox.config.app_jwks_url == options.app_jwks_url


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
async def test_launcher_serves_all_sandboxes_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.launcher",
        "--shopify",
        "0",
        "--crm",
        "0",
        "--templates",
        "0",
        "--app-url",
        "http://127.0.0.1:8000",
        "--state-dir",
        str(tmp_path),
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        urls: dict[str, str] = {}
        for name in ("shopify", "crm", "templates"):
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode().strip()
            assert line.startswith(f"{name} sandbox: http://127.0.0.1:"), line
            urls[name] = line.split(": ", 1)[1]
        assert len(set(urls.values())) == 3
        async with httpx.AsyncClient() as client:
            for name, url in urls.items():
                assert (await client.get(f"{url}/healthz")).json()["status"] == "ok", name
            shops = (await client.get(f"{urls['shopify']}/_sandbox/shops")).json()
            assert shops[0]["baseUrl"].startswith(urls["shopify"])
            for name in ("crm", "templates"):
                metadata = (await client.get(f"{urls[name]}/.well-known/oauth-authorization-server")).json()
                assert metadata["token_endpoint"] == f"{urls[name]}/oauth/token"
        process.send_signal(stop_signal)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
        for name in ("shopify", "crm", "templates"):
            assert (tmp_path / f"{name}.json").exists(), name
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
