"""Operator commands as an operator runs them: a process against a migrated database."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from onboarding.__main__ import SANDBOX_NAMES
from tests.support.environment import PROJECT_DIR
from tests.support.processes import free_port_run


def run_command(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onboarding", *args],
        cwd=PROJECT_DIR,
        env={
            "DATABASE_URL": f"sqlite:///{database}",
            "PATH": "/usr/bin:/bin",
            "APP_SIGNING_KEY_FILE": str(database.parent / "key.pem"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_dead_letters_are_listed_and_replayed(sqlite_template: Path, tmp_path: Path) -> None:
    database = tmp_path / "ops.sqlite3"
    shutil.copyfile(sqlite_template, database)
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO job (kind, payload, shop_domain, status, attempts, max_attempts,"
            " run_at, created_at, last_error) VALUES ('iam.provision_account', '{}', 'a.myshopify.com',"
            " 'dead', 6, 6, '2026-11-23 10:00:00+00:00', '2026-11-23 10:00:00+00:00',"
            " 'ExternalServiceError: CRM answered 500')"
        )
    listed = run_command(database, "dead-letters")
    assert listed.returncode == 0, listed.stderr
    assert (
        "iam.provision_account\ta.myshopify.com\t6\tExternalServiceError: CRM answered 500" in listed.stdout
    )

    replayed = run_command(database, "dead-letters", "--replay", "1")
    assert "job 1 queued again" in replayed.stdout
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT status, attempts FROM job").fetchone() == ("queued", 0)
    assert "no dead letters" in run_command(database, "dead-letters").stdout


def test_migrate_adopts_the_job_queue_migrations_recorded_under_sync(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """A database migrated before the job queue left sync/ has its tables and records their
    migrations under "sync": `migrate` moves the records instead of creating the tables again."""
    database = tmp_path / "before-move.sqlite3"
    shutil.copyfile(sqlite_template, database)
    with sqlite3.connect(database) as connection:
        # Only the migrations made before the move: the job queue's later ones never were sync's.
        connection.execute(
            "UPDATE migration SET app_name = 'sync' WHERE app_name = 'jobqueue' AND name IN"
            " ('2026-11-23T13:08:17:206606', '2026-11-23T13:13:58:699372')"
        )

    migrated = run_command(database, "migrate")

    assert migrated.returncode == 0, migrated.stderr
    with sqlite3.connect(database) as connection:
        apps = connection.execute(
            "SELECT app_name, count(*) FROM migration WHERE name IN"
            " ('2026-11-23T13:08:17:206606', '2026-11-23T13:13:58:699372') GROUP BY app_name"
        ).fetchall()
        assert apps == [("jobqueue", 2)]
        assert connection.execute("SELECT count(*) FROM job").fetchone() == (0,)


def test_create_admin_without_a_terminal_or_password_says_what_to_set(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "admin.sqlite3"
    shutil.copyfile(sqlite_template, database)

    created = run_command(database, "create-admin", "--email", "ops@example.com")

    assert created.returncode == 2
    assert created.stderr.strip() == (
        "error: set ADMIN_PASSWORD (at least 12 characters), or run this in a terminal to be asked for it"
    )
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM admin_user").fetchone() == (0,)


def test_commands_print_their_answer_and_no_log_lines(sqlite_template: Path, tmp_path: Path) -> None:
    database = tmp_path / "quiet.sqlite3"
    shutil.copyfile(sqlite_template, database)

    listed = run_command(database, "dead-letters")

    assert (listed.stdout, listed.stderr) == ("no dead letters\n", "")


class DevRun:
    """`make run` or `python -m onboarding dev` on free ports, a database and state of its own."""

    def __init__(self, tmp_path: Path, through_make: bool) -> None:
        self.app_port = free_port_run(1)
        # Every sandbox's page, then the mail sandbox's SMTP port.
        self.sandbox_base_port = free_port_run(len(SANDBOX_NAMES) + 1)
        dev_args = [
            "--port",
            str(self.app_port),
            "--sandbox-base-port",
            str(self.sandbox_base_port),
            "--state-dir",
            str(tmp_path / "sandbox"),
        ]
        command = (
            ["make", "--no-print-directory", "-s", "run", f"DEV_ARGS={' '.join(dev_args)}"]
            if through_make
            else [sys.executable, "-m", "onboarding", "dev", *dev_args]
        )
        self.process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env={
                "PATH": os.environ["PATH"],
                "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}",
                "APP_SIGNING_KEY_FILE": str(tmp_path / "key.pem"),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the test can tell when all of it is gone
        )

    @property
    def urls(self) -> list[str]:
        ports = [self.app_port, *(self.sandbox_base_port + offset for offset in range(len(SANDBOX_NAMES)))]
        return [f"http://127.0.0.1:{port}/" for port in ports]

    def read_until(self, text: str, seconds: float = 60) -> str:
        assert self.process.stdout is not None
        seen = b""
        deadline = time.monotonic() + seconds
        while text.encode() not in seen:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(remaining, 0))
            if not ready:
                raise AssertionError(f"{text!r} not printed within {seconds} s; printed:\n{seen.decode()}")
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"exited before printing {text!r}; printed:\n{seen.decode()}")
            seen += chunk
        return seen.decode()

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def wait_for_group_to_end(self, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.process.poll()  # reaps our own child: a zombie still counts as alive
            if not self.group_alive():
                return
            time.sleep(0.1)  # polling processes we asked to stop, with a deadline

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def dev_run(tmp_path: Path) -> Iterator[Callable[[bool], DevRun]]:
    runs: list[DevRun] = []

    def start(through_make: bool) -> DevRun:
        runs.append(DevRun(tmp_path, through_make))
        return runs[-1]

    yield start
    for run in runs:
        run.kill()


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.TransportError:
        return False
    return True


def test_dev_prints_the_urls_once_the_app_and_every_sandbox_answer(
    dev_run: Callable[[bool], DevRun],
) -> None:
    run = dev_run(False)

    printed = run.read_until("Mail sandbox:")

    assert f"App:              http://127.0.0.1:{run.app_port}/" in printed
    assert {url: _answers(url) for url in run.urls} == dict.fromkeys(run.urls, True)


def test_term_to_dev_stops_the_app_and_every_sandbox(dev_run: Callable[[bool], DevRun]) -> None:
    run = dev_run(False)
    run.read_until("Mail sandbox:")

    run.process.send_signal(signal.SIGTERM)
    run.wait_for_group_to_end()

    assert not run.group_alive()
    assert [url for url in run.urls if _answers(url)] == []


def test_int_to_make_alone_stops_every_child(dev_run: Callable[[bool], DevRun]) -> None:
    """`kill -INT <make>`: make does not pass INT on to its recipe, yet nothing may keep running."""
    run = dev_run(True)
    run.read_until("Mail sandbox:")

    run.process.send_signal(signal.SIGINT)  # to make only, not its process group
    run.wait_for_group_to_end()

    assert not run.group_alive()
    assert [url for url in run.urls if _answers(url)] == []
