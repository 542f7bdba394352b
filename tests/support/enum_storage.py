"""Checks that a column's enum is stored as its plain values, on the database under test.

Piccolo keeps `choices=` as metadata: it writes a member's value and reads back the plain
string. So every member written through the ORM must read back equal to itself (and to its
value, as raw SQL and templates see it), and a where-clause with the member must find it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum

from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw
from piccolo.engine.postgres import PostgresEngine


async def assert_stored_as_values(column: Column, write: Callable[[StrEnum], Awaitable[int]]) -> None:
    """`write(member)` stores a row holding `member` in `column` and returns the row's id."""
    enum = column._meta.choices
    assert enum is not None
    assert issubclass(enum, StrEnum), f"{column._meta.name} declares no StrEnum"
    table = column._meta.table
    for member in enum:
        row_id = await write(member)
        row = await table.select(column).where(table._meta.primary_key == row_id).first()
        assert row is not None
        stored = row[column._meta.name]
        assert type(stored) is str, f"{member!r} read back as {type(stored).__name__}"
        assert stored == member == member.value
        assert enum(stored) is member
        by_member = table._meta.primary_key == row_id
        assert await table.count().where(by_member & (column == member)) == 1
        # As raw SQL sees it (jobqueue/worker.py, jobqueue/inbox.py): the bare string.
        by_text = WhereRaw(f"{column._meta.db_column_name} = {{}}", member.value)
        assert await table.count().where(by_member, by_text) == 1


async def database_default(column: Column) -> str | None:
    """The column's default as the migrations made it in the database, a quoted literal with the
    engine's decoration: SQLite `'draft'`, PostgreSQL `'draft'::character varying`."""
    table = column._meta.table
    if isinstance(table._meta.db, PostgresEngine):
        rows = await table.raw(
            "SELECT column_default AS value FROM information_schema.columns"
            " WHERE table_name = {} AND column_name = {}",
            table._meta.tablename,
            column._meta.db_column_name,
        )
    else:
        rows = [
            {"value": row["dflt_value"]}
            for row in await table.raw(f"PRAGMA table_info({table._meta.tablename})")
            if row["name"] == column._meta.db_column_name
        ]
    assert len(rows) == 1
    value: str | None = rows[0]["value"]
    return value


async def assert_database_default(column: Column, member: StrEnum) -> None:
    """A row inserted without the column (raw SQL) gets `member`'s value, as the ORM's does."""
    assert column.default == member
    default = await database_default(column)
    assert default is not None
    assert default.startswith(f"'{member.value}'"), default
