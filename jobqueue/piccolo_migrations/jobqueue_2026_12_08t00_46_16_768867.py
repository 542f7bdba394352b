from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-08T00:46:16:768867"
VERSION = "1.38.0"
DESCRIPTION = "Job.trace_context: the W3C trace context of what queued a job, which its span continues"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="jobqueue", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Job",
        tablename="job",
        column_name="trace_context",
        db_column_name="trace_context",
        column_class_name="Text",
        column_class=Text,
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
