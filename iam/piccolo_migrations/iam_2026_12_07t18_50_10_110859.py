from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from enum import Enum
from piccolo.columns.column_types import Varchar

ID = "2026-12-07T18:50:10:110859"
VERSION = "1.38.0"
DESCRIPTION = "Shop.plan_tier, Shop.connection, ExternalAccount.system and ExternalAccount.status as enums (choices): records the choices only, no SQL"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="iam", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="Shop",
        tablename="shop",
        column_name="plan_tier",
        db_column_name="plan_tier",
        params={
            "choices": Enum(
                "PlanTier",
                {
                    "STANDARD": "standard",
                    "ADVANCED": "advanced",
                    "PLUS": "plus",
                    "ENTERPRISE": "enterprise",
                },
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Shop",
        tablename="shop",
        column_name="connection",
        db_column_name="connection",
        params={
            "choices": Enum(
                "ShopConnection",
                {"OAUTH": "oauth", "ACCESS_TOKEN": "access_token"},
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="ExternalAccount",
        tablename="external_account",
        column_name="system",
        db_column_name="system",
        params={
            "choices": Enum(
                "AccountSystem", {"CRM": "crm", "TEMPLATES": "templates"}
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="ExternalAccount",
        tablename="external_account",
        column_name="status",
        db_column_name="status",
        params={
            "choices": Enum(
                "AccountStatus",
                {"PENDING": "pending", "READY": "ready", "FAILED": "failed"},
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
