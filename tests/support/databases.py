"""Databases built by the real migrations: run them, and make or drop PostgreSQL databases."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import asyncpg

from tests.support.environment import PROJECT_DIR

TEST_POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def run_migrations(database_url: str) -> None:
    """Applies the migrations through Piccolo's CLI, exactly as an operator would."""
    result = subprocess.run(
        [sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all"],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0 or "Error" in result.stdout:
        raise RuntimeError(f"migrations failed:\n{result.stdout}\n{result.stderr}")


def postgres_url(database: str) -> str:
    return TEST_POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}"


async def _postgres_execute(sql: str) -> None:
    connection = await asyncpg.connect(TEST_POSTGRES_URL, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def postgres_execute(sql: str) -> None:
    """Runs `sql` from synchronous code, also where an event loop already runs on this thread
    (Playwright's sync API keeps one while the browser tests' package is open)."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, _postgres_execute(sql)).result()
