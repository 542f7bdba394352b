from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from enum import Enum
from piccolo.columns.column_types import Varchar

ID = "2026-12-07T18:50:11:549469"
VERSION = "1.38.0"
DESCRIPTION = "SyncLink.entity_type, SyncActivity.entity_type, direction and outcome as enums (choices): records the choices only, no SQL"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="sync", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="SyncLink",
        tablename="sync_link",
        column_name="entity_type",
        db_column_name="entity_type",
        params={
            "choices": Enum(
                "SyncEntity",
                {
                    "PRODUCT": "product",
                    "CUSTOMER": "customer",
                    "ORDER": "order",
                    "FULFILLMENT": "fulfillment",
                },
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="SyncActivity",
        tablename="sync_activity",
        column_name="entity_type",
        db_column_name="entity_type",
        params={
            "choices": Enum(
                "SyncEntity",
                {
                    "PRODUCT": "product",
                    "CUSTOMER": "customer",
                    "ORDER": "order",
                    "FULFILLMENT": "fulfillment",
                },
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="SyncActivity",
        tablename="sync_activity",
        column_name="direction",
        db_column_name="direction",
        params={
            "choices": Enum(
                "SyncDirection",
                {
                    "TO_CRM": "shopify-to-crm",
                    "TO_SHOPIFY": "crm-to-shopify",
                },
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="SyncActivity",
        tablename="sync_activity",
        column_name="outcome",
        db_column_name="outcome",
        params={
            "choices": Enum(
                "SyncOutcome",
                {"SYNCED": "synced", "REJECTED": "rejected", "HELD": "held"},
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
