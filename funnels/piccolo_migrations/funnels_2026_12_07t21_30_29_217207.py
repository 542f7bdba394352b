from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T21:30:29:217207"
VERSION = "1.38.0"
DESCRIPTION = "Funnel.page_synced_at: when the live page last matched the store"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="funnels", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Funnel",
        tablename="funnel",
        column_name="page_synced_at",
        db_column_name="page_synced_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
