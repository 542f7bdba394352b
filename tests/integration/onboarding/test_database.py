"""The SQLite engine's kept connections (onboarding/database.py KeptConnectionSQLiteEngine), inside
the app's lifespan: reads see every commit at once, whichever connection made it (the worker's
transactions, the inbox's own writer); a write waiting for SQLite's lock holds up no read; the
connections close with the app."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import httpx
import pytest
from litestar import Litestar

from jobqueue.tables import Job
from lib.db import write_transaction
from onboarding.database import KeptConnectionSQLiteEngine
from tests.support.app import asgi_client, lifespan_of

WAIT_SECONDS = 10.0  # a deadline against a hang, never a pause


@pytest.fixture
async def engine(client: httpx.AsyncClient) -> KeptConnectionSQLiteEngine:
    """The app's engine while the app runs (the `client` fixture holds its lifespan)."""
    bound = Job._meta.db
    assert isinstance(bound, KeptConnectionSQLiteEngine)
    return bound


def sqlite_path(engine: KeptConnectionSQLiteEngine) -> str:
    return str(engine.path)


async def test_a_read_sees_at_once_what_a_transaction_committed(engine: KeptConnectionSQLiteEngine) -> None:
    assert await Job.count().where(Job.kind == "test.seen") == 0
    async with write_transaction():  # a connection of its own, as the worker's jobs use
        await Job.insert(Job(kind="test.seen", payload={}))
    assert await Job.count().where(Job.kind == "test.seen") == 1


async def test_a_read_sees_at_once_what_another_process_committed(engine: KeptConnectionSQLiteEngine) -> None:
    assert await Job.count().where(Job.kind == "test.elsewhere") == 0
    elsewhere = sqlite3.connect(sqlite_path(engine), isolation_level=None)
    try:
        elsewhere.execute(
            "INSERT INTO job (kind, payload, status, attempts, max_attempts, run_at, created_at)"
            " VALUES ('test.elsewhere', '{}', 'queued', 0, 8, datetime('now'), datetime('now'))"
        )
    finally:
        elsewhere.close()
    assert await Job.count().where(Job.kind == "test.elsewhere") == 1


async def test_a_write_outside_a_transaction_is_committed_at_once(engine: KeptConnectionSQLiteEngine) -> None:
    await Job.insert(Job(kind="test.autocommit", payload={}))
    elsewhere = sqlite3.connect(sqlite_path(engine))
    try:
        rows = elsewhere.execute("SELECT count(*) FROM job WHERE kind = 'test.autocommit'").fetchone()
    finally:
        elsewhere.close()
    assert rows == (1,)


async def test_a_write_waiting_for_the_lock_holds_up_no_read(engine: KeptConnectionSQLiteEngine) -> None:
    holder = sqlite3.connect(sqlite_path(engine), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds SQLite's write lock
    try:
        waiting_write = asyncio.create_task(Job.insert(Job(kind="test.waits", payload={})).run())
        # The write queues on the writer connection behind the lock; reads still answer.
        assert await asyncio.wait_for(Job.count().where(Job.kind == "test.waits").run(), WAIT_SECONDS) == 0
        assert not waiting_write.done()
    finally:
        holder.execute("COMMIT")
        holder.close()
    await asyncio.wait_for(waiting_write, WAIT_SECONDS)
    assert await Job.count().where(Job.kind == "test.waits") == 1


def aiosqlite_threads() -> set[threading.Thread]:
    """The threads aiosqlite runs a connection on (one each; not daemons, so one left open would
    keep the process from exiting)."""
    return {
        thread
        for thread in threading.enumerate()
        if getattr(getattr(thread, "_target", None), "__module__", "") == "aiosqlite.core"
    }


async def test_the_kept_connections_close_with_the_app(app: Litestar) -> None:
    before = aiosqlite_threads()
    async with lifespan_of(app), asgi_client(app) as client:
        assert (await client.get("/readyz")).status_code == 200
        kept = aiosqlite_threads() - before
        assert len(kept) == 2  # the reader and the writer
    for thread in kept:
        thread.join(WAIT_SECONDS)
        assert not thread.is_alive()
    # Without the app running, queries take Piccolo's own way (a connection each) and still work.
    assert await Job.count().where(Job.kind == "test.after") == 0
