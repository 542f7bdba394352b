"""One place that turns DATABASE_URL into a Piccolo engine and binds every table to it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.tables import Migration
from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, dict_factory
from piccolo.table import Table

# Order matters only for humans: migrations declare their own dependencies.
PICCOLO_APPS = [
    "jobqueue.piccolo_app",
    "iam.piccolo_app",
    "billing.piccolo_app",
    "sync.piccolo_app",
    "analytics.piccolo_app",
    "funnels.piccolo_app",
    "alerts.piccolo_app",
]

# SQLite serialises writers; a generous busy timeout lets a second writer wait instead of
# failing with "database is locked" (see STACK-NOTES).
SQLITE_BUSY_TIMEOUT_SECONDS = 30


# Migrations that moved to another Piccolo app, by the id they keep: (from app, to app).
# A database migrated before the move has recorded them under the old app's name.
MOVED_MIGRATIONS = {
    # The job queue left the sync domain for a layer of its own (jobqueue/).
    "2026-11-23T13:08:17:206606": ("sync", "jobqueue"),
    "2026-11-23T13:13:58:699372": ("sync", "jobqueue"),
}


def app_registry() -> AppRegistry:
    return AppRegistry(apps=PICCOLO_APPS)


SQLITE_FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def create_private_sqlite_file(path: Path) -> None:
    """The database file (and its WAL/SHM/journal, when there) readable by the app's user only.

    Created here, before SQLite opens it, so it is never world-readable even for a moment; SQLite
    gives its side files the database file's mode. The chmods ignore the umask and also tighten
    files an older version left open.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, SQLITE_FILE_MODE)
    try:
        os.fchmod(fd, SQLITE_FILE_MODE)
    finally:
        os.close(fd)
    for suffix in SQLITE_SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.chmod(SQLITE_FILE_MODE)


class KeptConnectionSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, with the queries outside a transaction on connections kept open.

    Piccolo's engine opens a connection (aiosqlite: a new thread and a new SQLite handle) for
    every query outside a transaction, which cost more than the query itself on a page of
    several reads and a session write. While the app runs (`open_connections` in its
    lifespan, `close_connections` at its end), such a query runs on one of two connections
    kept open instead: SELECTs on the reader, every other statement on the writer. Two,
    because SQLite takes one writer at a time: a write waiting for the lock (held by the
    worker's transaction, say) then holds up only the writes queued behind it, which would
    wait for that lock anyway, never a read. A transaction keeps Piccolo's way (a connection
    of its own, which its reads use too). In WAL mode (set at start-up) every statement on
    the reader reads the last commit, whichever connection made it: the worker's writes in
    the same process are seen at the next read, as before.
    """

    def __init__(self, path: str, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self._reader: aiosqlite.Connection | None = None
        self._writer: aiosqlite.Connection | None = None

    async def _connect(self) -> aiosqlite.Connection:
        connection = await aiosqlite.connect(**self.connection_kwargs)
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def open_connections(self) -> None:
        if self._reader is None:
            self._reader, self._writer = await self._connect(), await self._connect()

    async def close_connections(self) -> None:
        kept, self._reader, self._writer = (self._reader, self._writer), None, None
        for connection in kept:
            if connection is not None:
                await connection.close()  # its thread is not a daemon: an open one holds the exit

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[object] | None = None,
        query_type: str = "generic",
        table: type[Table] | None = None,
    ) -> object:
        reader, writer = self._reader, self._writer
        if reader is None or writer is None or (query_type == "insert" and self.get_version_sync() < 3.35):
            # Not running (a command, a test without the app), or an SQLite without RETURNING,
            # which Piccolo handles on its own path.
            return await super()._run_in_new_connection(query, args, query_type, table)
        if _is_select(query):
            async with reader.execute(query, args or []) as cursor:
                return await cursor.fetchall()
        async with writer.execute(query, args or []) as cursor:
            return await cursor.fetchall()  # autocommit (isolation_level None): committed here


def _is_select(query: str) -> bool:
    # What Piccolo compiles for select, count, exists and objects queries; anything else (a
    # CTE, a raw statement) may write, so it goes to the writer.
    return query.lstrip()[:7].upper() == "SELECT "


def engine_from_url(database_url: str) -> Engine:  # type: ignore[type-arg]
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        create_private_sqlite_file(path)
        return KeptConnectionSQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
    return PostgresEngine(config={"dsn": database_url})


def all_tables(registry: AppRegistry) -> list[type[Table]]:
    tables = [table for config in registry.app_configs.values() for table in config.table_classes]
    return [*tables, Migration]


def bind_tables(engine: Engine, registry: AppRegistry) -> None:  # type: ignore[type-arg]
    """Point every table at `engine`, so one process can serve any database it is given."""
    for table in all_tables(registry):
        table._meta.db = engine


def expected_migrations(registry: AppRegistry) -> set[tuple[str, str]]:
    """(app name, migration id) of every migration shipped with the code."""
    finder = BaseMigrationManager()
    expected: set[tuple[str, str]] = set()
    for app_config in registry.app_configs.values():
        modules = finder.get_migration_modules(app_config.resolved_migrations_folder_path)
        expected.update((app_config.app_name, migration_id) for migration_id in modules)
    return expected


async def adopt_moved_migrations() -> int:
    """Records moved migrations under their new app, so they are not applied twice."""
    if not await Migration.table_exists():
        return 0  # a new database: every migration runs from its new home
    adopted = 0
    for migration_id, (old_app, new_app) in MOVED_MIGRATIONS.items():
        rows = (
            await Migration.update({Migration.app_name: new_app})
            .where((Migration.name == migration_id) & (Migration.app_name == old_app))
            .returning(Migration.name)
        )
        adopted += len(rows)
    return adopted


@dataclass(frozen=True)
class DatabaseStatus:
    reachable: bool
    pending_migrations: int
    problem: str | None


async def database_status(expected: set[tuple[str, str]]) -> DatabaseStatus:
    try:
        applied_rows = await Migration.select(Migration.app_name, Migration.name)
    except Exception as exc:  # readiness must report any failure, not raise it
        try:
            never_migrated = not await Migration.table_exists()
        except Exception:
            never_migrated = False
        if never_migrated:
            return DatabaseStatus(True, len(expected), f"{len(expected)} migration(s) not applied")
        return DatabaseStatus(False, len(expected), f"database unreachable: {type(exc).__name__}")
    applied = {(row["app_name"], row["name"]) for row in applied_rows}
    pending = len(expected - applied)
    problem = f"{pending} migration(s) not applied" if pending else None
    return DatabaseStatus(True, pending, problem)
