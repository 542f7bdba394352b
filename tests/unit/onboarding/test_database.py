"""The SQLite database file (onboarding/database.py engine_from_url): its owner alone reads it,
whatever the umask, and so do its WAL and SHM files."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from onboarding.database import engine_from_url


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_new_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "funnelsync.db"
    engine_from_url(f"sqlite:///{path}")
    assert mode_of(path) == 0o600

    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (x INTEGER)")
        connection.execute("INSERT INTO t VALUES (1)")
        connection.commit()
        for suffix in ("-wal", "-shm"):
            assert mode_of(path.with_name(path.name + suffix)) == 0o600
    finally:
        connection.close()


@pytest.mark.usefixtures("open_umask")
def test_world_readable_files_left_by_an_older_version_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "funnelsync.db"
    sqlite3.connect(path).close()
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    for file in files:
        file.touch()
        file.chmod(0o644)
    engine_from_url(f"sqlite:///{path}")
    assert [mode_of(file) for file in files] == [0o600, 0o600, 0o600]
