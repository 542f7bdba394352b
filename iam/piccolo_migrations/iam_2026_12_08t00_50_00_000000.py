from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-08T00:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Shop.access_lost_at: when Shopify stopped accepting the stored tokens of an installed shop"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="iam", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Shop",
        tablename="shop",
        column_name="access_lost_at",
        db_column_name="access_lost_at",
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
