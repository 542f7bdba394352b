from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from enum import Enum
from piccolo.columns.column_types import Varchar

ID = "2026-12-07T18:50:09:586352"
VERSION = "1.38.0"
DESCRIPTION = "Job.status, InboxEvent.source and InboxEvent.status as enums (choices): records the choices only, no SQL"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="jobqueue", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="Job",
        tablename="job",
        column_name="status",
        db_column_name="status",
        params={
            "choices": Enum(
                "JobStatus",
                {
                    "QUEUED": "queued",
                    "RUNNING": "running",
                    "DONE": "done",
                    "DEAD": "dead",
                    "CANCELLED": "cancelled",
                },
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="InboxEvent",
        tablename="inbox_event",
        column_name="source",
        db_column_name="source",
        params={
            "choices": Enum(
                "WebhookSource",
                {"SHOPIFY": "shopify", "CRM": "crm", "STRIPE": "stripe"},
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="InboxEvent",
        tablename="inbox_event",
        column_name="status",
        db_column_name="status",
        params={
            "choices": Enum(
                "InboxStatus",
                {
                    "RECEIVED": "received",
                    "PROCESSED": "processed",
                    "IGNORED": "ignored",
                },
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
