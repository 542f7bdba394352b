from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T21:31:01:657807"
VERSION = "1.38.0"
DESCRIPTION = "Job.waiting_since: since when a job waits for something else, for its deadline"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="jobqueue", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Job",
        tablename="job",
        column_name="waiting_since",
        db_column_name="waiting_since",
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
