"""Transactions that hold on both engines the app runs on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType


@asynccontextmanager
async def write_transaction(engine: Engine | None = None) -> AsyncIterator[None]:  # type: ignore[type-arg]
    """A transaction that may read then write without losing a race.

    SQLite needs the write lock up front (BEGIN IMMEDIATE), or two writers that both
    read first fail with "database is locked"; PostgreSQL gets row locks from the
    queries themselves. Nested calls join the outer transaction. The app binds every table,
    Piccolo's own migration table included, to one engine (onboarding/database.py); code that
    binds only its own tables (a bare worker process) passes their engine.
    """
    engine = engine or Migration._meta.db
    if engine.transaction_exists():
        yield
        return
    if isinstance(engine, SQLiteEngine):
        async with engine.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with engine.transaction():
            yield
