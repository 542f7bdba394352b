from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from enum import Enum
from piccolo.columns.column_types import Varchar

ID = "2026-12-07T18:50:12:201281"
VERSION = "1.38.0"
DESCRIPTION = "Funnel.status, Funnel.host_kind, Upsell.discount_type and PublishStep.status as enums (choices): records the choices only, no SQL"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="funnels", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="Funnel",
        tablename="funnel",
        column_name="status",
        db_column_name="status",
        params={
            "choices": Enum(
                "FunnelStatus",
                {
                    "DRAFT": "draft",
                    "PUBLISHING": "publishing",
                    "LIVE": "live",
                    "FAILED": "failed",
                },
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Funnel",
        tablename="funnel",
        column_name="host_kind",
        db_column_name="host_kind",
        params={
            "choices": Enum(
                "HostKind",
                {"SUBDOMAIN": "subdomain", "CUSTOM_DOMAIN": "custom_domain"},
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Upsell",
        tablename="upsell",
        column_name="discount_type",
        db_column_name="discount_type",
        params={
            "choices": Enum(
                "DiscountType",
                {
                    "NONE": "none",
                    "PERCENTAGE": "percentage",
                    "FIXED_AMOUNT": "fixed_amount",
                },
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="PublishStep",
        tablename="publish_step",
        column_name="status",
        db_column_name="status",
        params={
            "choices": Enum(
                "PublishStepStatus",
                {
                    "PENDING": "pending",
                    "RUNNING": "running",
                    "DONE": "done",
                    "FAILED": "failed",
                },
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
