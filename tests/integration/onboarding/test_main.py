"""Operator commands as an operator runs them: a process against a migrated database."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support.environment import PROJECT_DIR


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
