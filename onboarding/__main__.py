"""Operator commands: `python -m onboarding serve | migrate | dev`.

`dev` is what `make run` uses: migrations, every sandbox and the app on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import getpass
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
from litestar import Litestar

from iam.vault import generate_key
from onboarding.settings import SettingsError, load_settings

T = TypeVar("T")
# Ports from --sandbox-base-port upwards, in this order (8101 shopify … 8104 stripe by default).
SANDBOX_NAMES = ("shopify", "crm", "templates", "stripe")
SANDBOX_START_SECONDS = 30
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


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
    from onboarding.server import serve_app

    settings = load_settings()  # raises SettingsError before anything starts
    serve_app(create_app(settings), settings, host, port)


def _with_app(work: Callable[[Litestar], Awaitable[T]], *, quiet: bool = True) -> T:
    """Runs `work` inside the app's lifespan (database pool, clients), without its worker.

    `quiet` logs only warnings and errors: what a command prints is its answer, not the app's
    start-up lines.
    """
    from onboarding.app import create_app

    settings = load_settings()
    overrides: dict[str, object] = {"run_worker": False}
    if quiet:
        overrides["log_level"] = "WARNING"
    app = create_app(settings.model_copy(update=overrides))

    async def run() -> T:
        async with app.lifespan():
            return await work(app)

    return asyncio.run(run())


def run_worker() -> None:
    """A worker process of its own (set RUN_WORKER=false on the app processes)."""

    async def work(app: Litestar) -> None:
        from analytics.rollup import schedule_roll_up

        # The app processes (RUN_WORKER=false) leave the analytics rollup job to the workers.
        await schedule_roll_up()
        concurrency = app.state.settings.worker_concurrency
        await asyncio.gather(*(app.state.worker.run_forever() for _ in range(concurrency)))

    _with_app(work, quiet=False)


def rotate_keys() -> None:
    from iam.key_rotation import reencrypt_all

    async def rotate(app: Litestar) -> str:
        vault = app.state.iam.vault
        return f"re-encrypted {await reencrypt_all(vault)} secret(s) under key {vault.ring.current_key_id}"

    print(_with_app(rotate))


def create_admin_user(email: str) -> None:
    """Creates an admin; the password comes from ADMIN_PASSWORD or a prompt, never an argument."""
    from iam.admin import PASSWORD_MIN_LENGTH, AdminError, create_admin

    password = os.environ.get("ADMIN_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            print(
                f"error: set ADMIN_PASSWORD (at least {PASSWORD_MIN_LENGTH} characters),"
                " or run this in a terminal to be asked for it",
                file=sys.stderr,
            )
            raise SystemExit(2)
        password = getpass.getpass(f"Password ({PASSWORD_MIN_LENGTH}+ characters): ")

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


def dev(port: int, sandbox_base_port: int, state_dir: str, stop_with_parent: bool) -> None:
    sandbox_urls = {
        name: f"http://127.0.0.1:{sandbox_base_port + offset}" for offset, name in enumerate(SANDBOX_NAMES)
    }
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
    settings = load_settings()  # fail before starting anything when a setting is wrong
    migrate()
    # SIGTERM's default action ends the process on the spot, skipping the `finally` that stops
    # the sandboxes; as an exception it unwinds like Ctrl-C does.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    sandboxes = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.launcher",
            *(arg for name, url in sandbox_urls.items() for arg in (f"--{name}", url.rsplit(":", 1)[1])),
            "--app-url",
            app_url,
            "--state-dir",
            state_dir,
        ],
        preexec_fn=_stop_when_parent_dies,  # before any thread starts: preexec_fn is not thread-safe
    )
    try:
        _wait_until_answering(sandbox_urls, sandboxes)
        if stop_with_parent:
            _stop_when_parent_stops()

        def announce() -> None:
            print(f"\n  App:              {app_url}/", flush=True)
            print(f"  Start here (Shopify sandbox): {shopify}/", flush=True)
            print(
                f"  Stripe sandbox:   {sandbox_urls['stripe']}/ (billing with BILLING_PROVIDER=stripe)\n",
                flush=True,
            )

        from onboarding.app import create_app
        from onboarding.server import serve_app

        serve_app(create_app(settings), settings, "127.0.0.1", port, on_started=announce)
    finally:
        sandboxes.terminate()
        try:
            sandboxes.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sandboxes.kill()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _wait_until_answering(urls: dict[str, str], process: subprocess.Popen[bytes]) -> None:
    """Returns once every URL answers HTTP; exits naming the ones that do not."""
    deadline = time.monotonic() + SANDBOX_START_SECONDS
    waiting = dict(urls)
    with httpx.Client(timeout=1) as client:
        while waiting:
            if process.poll() is not None:
                raise SystemExit(f"error: the sandboxes stopped while starting (exit {process.returncode})")
            if time.monotonic() > deadline:
                silent = ", ".join(waiting)
                raise SystemExit(f"error: {silent} did not answer within {SANDBOX_START_SECONDS} s")
            for name, url in list(waiting.items()):
                with contextlib.suppress(httpx.TransportError):
                    client.get(url)
                    del waiting[name]
            if waiting:
                time.sleep(0.1)


def _stop_when_parent_dies() -> None:
    """Runs in the sandboxes' process before it starts: Linux ends it when `dev` dies, even by
    SIGKILL, so no sandbox outlives the command that started it."""
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop_when_parent_stops() -> None:
    """Stops `dev` like Ctrl-C does once the process that started it is stopping or gone.

    For `make run`: GNU make does not pass SIGINT on to its recipe (a terminal sends it to the
    whole process group anyway); it waits for the recipe inside its signal handler, so
    `kill -INT <make>` alone would leave everything running. While make is in that handler, the
    signal is blocked in its signal mask, which Linux shows in /proc/<pid>/status.
    """
    parent = os.getppid()
    status = Path(f"/proc/{parent}/status")
    if not status.exists():
        return
    stopping = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGHUP - 1))

    def watch() -> None:
        while True:
            try:
                blocked = next(
                    int(line.split()[1], 16)
                    for line in status.read_text().splitlines()
                    if line.startswith("SigBlk:")
                )
            except (OSError, StopIteration):
                blocked = stopping  # the parent is gone
            if blocked & stopping or os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.2)

    threading.Thread(target=watch, name="stop-with-parent", daemon=True).start()


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
    dev_parser.add_argument("--sandbox-base-port", type=int, default=8101, metavar="PORT")
    dev_parser.add_argument("--state-dir", default="var/sandbox", help="where the sandboxes keep their state")
    dev_parser.add_argument(
        "--stop-with-parent", action="store_true", help="stop when the starting process (make) is told to"
    )
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
            dev(args.port, args.sandbox_base_port, args.state_dir, args.stop_with_parent)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
