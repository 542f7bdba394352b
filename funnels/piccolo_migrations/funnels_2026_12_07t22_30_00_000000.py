from enum import Enum

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar

ID = "2026-12-07T22:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Funnels can be archived: Funnel.archived_at, and `archived` among Funnel.status's choices"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="funnels", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Funnel",
        tablename="funnel",
        column_name="archived_at",
        db_column_name="archived_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": None,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    statuses = {"DRAFT": "draft", "PUBLISHING": "publishing", "LIVE": "live", "FAILED": "failed"}
    manager.alter_column(
        table_class_name="Funnel",
        tablename="funnel",
        column_name="status",
        db_column_name="status",
        params={"choices": Enum("FunnelStatus", {**statuses, "ARCHIVED": "archived"})},
        old_params={"choices": Enum("FunnelStatus", statuses)},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
