"""Operator commands: `python -m onboarding serve | migrate | dev`.

`dev` is what `make run` uses: migrations, every sandbox and the app on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import uvicorn
from litestar import Litestar

from iam.vault import generate_key
from onboarding.settings import SettingsError, load_settings

T = TypeVar("T")
SANDBOX_PORTS = {"shopify": 8101, "crm": 8102, "templates": 8103, "stripe": 8104}


def migrate() -> None:
    from onboarding.database import adopt_moved_migrations, app_registry, bind_tables, engine_from_url

    bind_tables(engine_from_url(load_settings().database_url), app_registry())
    asyncio.run(adopt_moved_migrations())
    # Piccolo's CLI reads the same settings through piccolo_conf.py.
    subprocess.run(
        [sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def serve(host: str, port: int) -> None:
    from onboarding.app import create_app

    settings = load_settings()  # raises SettingsError before anything starts
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, proxy_headers=True)


def _with_app(work: Callable[[Litestar], Awaitable[T]]) -> T:
    """Runs `work` inside the app's lifespan (database pool, clients), without its worker."""
    from onboarding.app import create_app

    app = create_app(load_settings().model_copy(update={"run_worker": False}))

    async def run() -> T:
        async with app.lifespan():
            return await work(app)

    return asyncio.run(run())


def run_worker() -> None:
    """A worker process of its own (set RUN_WORKER=false on the app processes)."""

    async def work(app: Litestar) -> None:
        concurrency = app.state.settings.worker_concurrency
        await asyncio.gather(*(app.state.worker.run_forever() for _ in range(concurrency)))

    _with_app(work)


def rotate_keys() -> None:
    from iam.key_rotation import reencrypt_all

    async def rotate(app: Litestar) -> str:
        vault = app.state.iam.vault
        return f"re-encrypted {await reencrypt_all(vault)} secret(s) under key {vault.ring.current_key_id}"

    print(_with_app(rotate))


def create_admin_user(email: str) -> None:
    """Creates an admin; the password comes from ADMIN_PASSWORD or a prompt, never an argument."""
    from iam.admin import AdminError, create_admin

    password = os.environ.get("ADMIN_PASSWORD") or getpass.getpass("Password (12+ characters): ")

    async def create(app: Litestar) -> str:
        try:
            await create_admin(email, password)
        except AdminError as problem:
            return f"error: {problem}"
        return f"admin {email.strip().lower()} created"

    outcome = _with_app(create)
    print(outcome, file=sys.stderr if outcome.startswith("error") else sys.stdout)
    if outcome.startswith("error"):
        raise SystemExit(2)


def dead_letters(replay: int | None) -> None:
    """Lists jobs that kept failing, with their last error; `--replay ID` queues one again."""
    from jobqueue.jobs import dead_letters as list_dead_letters
    from jobqueue.jobs import replay_dead_letter

    async def show(app: Litestar) -> list[str]:
        if replay is not None:
            replayed = await replay_dead_letter(replay)
            return [f"job {replay} queued again" if replayed else f"job {replay} is not a dead letter"]
        rows = await list_dead_letters()
        columns = ("id", "kind", "shop_domain", "attempts", "last_error")
        return ["\t".join(str(row[column]) for column in columns) for row in rows] or ["no dead letters"]

    print("\n".join(_with_app(show)))


def dev(port: int) -> None:
    sandbox_urls = {name: f"http://127.0.0.1:{sandbox_port}" for name, sandbox_port in SANDBOX_PORTS.items()}
    shopify = sandbox_urls["shopify"]
    app_url = f"http://127.0.0.1:{port}"
    os.environ.setdefault("APP_BASE_URL", app_url)
    os.environ.setdefault("SHOPIFY_SHOP_BASE_URL", f"{shopify}/shops/{{shop}}")
    os.environ.setdefault("SHOPIFY_SANDBOX_URL", f"{shopify}/")
    # Inside the sandbox's store admin: its App Bridge stand-in, and its origin frames the app.
    os.environ.setdefault("SHOPIFY_APP_BRIDGE_URL", f"{shopify}/cdn/app-bridge.js")
    os.environ.setdefault("SHOPIFY_ADMIN_ORIGIN", shopify)
    os.environ.setdefault("CRM_BASE_URL", sandbox_urls["crm"])
    os.environ.setdefault("TEMPLATES_BASE_URL", sandbox_urls["templates"])
    # The Stripe sandbox's key and the webhook secret the launcher registers its endpoint with;
    # BILLING_PROVIDER=stripe makes it charge new subscriptions (Shopify's Billing API otherwise).
    os.environ.setdefault("STRIPE_API_BASE", sandbox_urls["stripe"])
    os.environ.setdefault("STRIPE_API_KEY", "sk_test_sandbox")
    os.environ.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_sandbox")
    os.environ.setdefault("LOG_JSON", "false")
    load_settings()  # fail before starting anything when a setting is wrong
    migrate()
    sandboxes = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.launcher",
            *(arg for name, port in SANDBOX_PORTS.items() for arg in (f"--{name}", str(port))),
            "--app-url",
            app_url,
            "--state-dir",
            "var/sandbox",
        ]
    )
    try:
        print(f"\n  App:              {app_url}/", flush=True)
        print(f"  Start here (Shopify sandbox): {shopify}/", flush=True)
        print(
            f"  Stripe sandbox:   {sandbox_urls['stripe']}/ (billing with BILLING_PROVIDER=stripe)\n",
            flush=True,
        )
        serve("127.0.0.1", port)
    finally:
        sandboxes.terminate()
        sandboxes.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m onboarding")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the app (production)")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    commands.add_parser("migrate", help="apply every pending database migration")
    commands.add_parser("worker", help="run a job worker process")
    commands.add_parser("rotate-keys", help="re-encrypt stored tokens under the newest VAULT_KEYS key")
    commands.add_parser("new-vault-key", help="print a fresh key for VAULT_KEYS")
    admin_parser = commands.add_parser(
        "create-admin", help="create an admin user (password: ADMIN_PASSWORD or prompt)"
    )
    admin_parser.add_argument("--email", required=True)
    letters_parser = commands.add_parser("dead-letters", help="list jobs that kept failing, or replay one")
    letters_parser.add_argument("--replay", type=int, metavar="JOB_ID")
    dev_parser = commands.add_parser("dev", help="migrations, sandboxes and the app for development")
    dev_parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            serve(args.host, args.port)
        elif args.command == "migrate":
            load_settings()
            migrate()
        elif args.command == "worker":
            run_worker()
        elif args.command == "rotate-keys":
            rotate_keys()
        elif args.command == "create-admin":
            create_admin_user(args.email)
        elif args.command == "dead-letters":
            dead_letters(args.replay)
        elif args.command == "new-vault-key":
            print(f"{time.strftime('%Y%m%d')}:{generate_key()}")
        else:
            dev(args.port)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
